//! `ocirun-gen OUT_DIR`: write ocirun's man pages to OUT_DIR/man and its shell completions to
//! OUT_DIR/completions. The man page date comes from `SOURCE_DATE_EPOCH` when it is set, so
//! package builds are reproducible; without it, today's date.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: ocirun-gen OUT_DIR");
        return ExitCode::from(2);
    };
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => match epoch.trim().parse::<u64>() {
            Ok(secs) => ocirun_gen::date_from_epoch(secs),
            Err(e) => {
                eprintln!("ocirun-gen: SOURCE_DATE_EPOCH {epoch:?}: {e}");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            ocirun_gen::date_from_epoch(now.as_secs())
        }
    };
    let out = PathBuf::from(out);
    match ocirun_gen::write_all(&out, &date) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocirun-gen: write to {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
