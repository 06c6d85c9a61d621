//! CPU time of the calling thread: what a step costs the host, without the time the thread
//! spends blocked (a CPU driver such as lavapipe may block `queue.submit` while it runs
//! earlier work, which is not host cost).

use std::time::{Duration, Instant};

/// The calling thread's CPU time so far; `None` where the platform has no such clock here.
#[cfg(unix)]
pub fn thread_cpu_time() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant of this platform.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (status == 0).then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

#[cfg(not(unix))]
pub fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Per-step host times: wall, and the thread's CPU time where the platform has the clock.
#[derive(Default)]
pub struct HostTimes {
    pub wall: Vec<Duration>,
    pub cpu: Vec<Duration>,
}

impl HostTimes {
    /// Runs `work` and records its wall and CPU time.
    pub fn time<R>(&mut self, work: impl FnOnce() -> R) -> R {
        let cpu_start = thread_cpu_time();
        let start = Instant::now();
        let out = work();
        self.wall.push(start.elapsed());
        if let (Some(begin), Some(end)) = (cpu_start, thread_cpu_time()) {
            self.cpu.push(end.saturating_sub(begin));
        }
        out
    }
}
