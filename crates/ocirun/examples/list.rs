//! List the containers under a state root (default /run/ocirun): `list [ROOT]`.
use ocirun::Runtime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).unwrap_or_else(|| ocirun::container::DEFAULT_ROOT.into());
    for c in Runtime::new(root).list()? {
        println!("{}\t{}\t{}\t{}", c.id, c.pid, c.status, c.bundle);
    }
    Ok(())
}
