//! CPU time of the benchmark's own process, read from inside it (Linux `/proc`), for the
//! process-level benchmarks (`benches/process/*.sh`); included by their drivers with `#[path]`.
#![allow(dead_code)]

/// User + system CPU seconds of this process (every thread, the blocking pool's SQLite work
/// included), from /proc/self/stat (Linux): in clock ticks, so to 10 ms.
pub fn cpu_seconds_stat() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the comm field.
    (ticks(11) + ticks(12)) / 100.0
}

/// The same CPU time to the microsecond: the scheduler's `se.sum_exec_runtime` (milliseconds)
/// of every live thread, from /proc/self/task/*/sched. The measured span starts no thread that
/// ends inside it (tokio keeps its blocking threads for 10 s), so nothing is missed; the JSON
/// line carries the /proc/self/stat figure beside it as a check. `None` without that file.
pub fn cpu_seconds_threads() -> Option<f64> {
    let mut ms = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let sched = std::fs::read_to_string(task.ok()?.path().join("sched")).ok()?;
        let line = sched
            .lines()
            .find(|l| l.starts_with("se.sum_exec_runtime"))?;
        ms += line.rsplit(':').next()?.trim().parse::<f64>().ok()?;
    }
    Some(ms / 1000.0)
}

/// CPU seconds so far: (precise, /proc/self/stat).
pub fn cpu_seconds() -> (f64, f64) {
    let stat = cpu_seconds_stat();
    (cpu_seconds_threads().unwrap_or(stat), stat)
}
