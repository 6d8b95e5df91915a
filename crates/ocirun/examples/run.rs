//! Run a container from a bundle and print its exit code:
//! `run BUNDLE [ID]` (as root; the state goes to a temporary root).
use ocirun::{CreateOptions, RunOptions, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bundle = args.next().ok_or("usage: run BUNDLE [ID]")?;
    let id = args.next().unwrap_or_else(|| format!("example-run-{}", std::process::id()));
    let root = std::env::temp_dir().join(format!("ocirun-example-{}", std::process::id()));
    let rt = Runtime::new(&root);
    let opts = CreateOptions::new(bundle);
    let code = rt.run(&id, &opts, &RunOptions::default())?;
    println!("container {id} exited with {code}");
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
