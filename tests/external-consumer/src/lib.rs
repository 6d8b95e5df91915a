//! What both consumers check after their run: no fd and no zombie left behind.

/// Open fds of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Children of this process that exited and were never reaped.
pub fn zombies() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let field = |k: &str| st.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string());
        if field("PPid:").as_deref() == Some(me.as_str()) && field("State:").is_some_and(|s| s.starts_with('Z')) {
            out.push(pid);
        }
    }
    out
}

/// The process of an `exec` that runs `sh -c script`, based on the container's own.
pub fn exec_of(rt: &ocirun::Runtime, id: &str, script: &str) -> ocirun::Result<ocirun::ExecOptions> {
    let base = rt.container_process(id)?;
    let o = ocirun::ProcessOverrides::new(vec!["sh".into(), "-c".into(), script.into()]);
    Ok(ocirun::ExecOptions::new(ocirun::container::exec::process_from(&base, &o)))
}
