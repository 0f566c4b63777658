//! The `heap-profile` bench feature: when `AGENTLOCATOR_HEAP_PROFILE` names a
//! file, dhat tracks every Rust heap allocation with its call stack from the
//! start of the process, and [`finish`] writes what is live then, by
//! allocation site, to that file. Unset, nothing is recorded (a build with
//! all features, as the test suite uses, runs as usual). `serve` calls it as
//! soon as it is told to stop, before any worker stops, so the profile holds
//! the running daemon's heap (`eb`, bytes at the end, per site) rather than
//! what is left once everything is torn down. Allocations made by C code
//! (SQLite's page cache) do not go through Rust's allocator and are not seen.
//! Without the feature both functions do nothing.

#[cfg(feature = "heap-profile")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

#[cfg(feature = "heap-profile")]
static PROFILER: std::sync::Mutex<Option<dhat::Profiler>> = std::sync::Mutex::new(None);

/// Starts recording; call first thing in `main`.
pub fn start() {
    #[cfg(feature = "heap-profile")]
    {
        let Some(file) = std::env::var_os("AGENTLOCATOR_HEAP_PROFILE") else {
            return;
        };
        // Deep enough to get past the allocator, collections and tokio to the
        // code that asked (the default, 10, often stops inside them).
        let profiler = dhat::Profiler::builder().file_name(file).trim_backtraces(Some(32)).build();
        *PROFILER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(profiler);
    }
}

/// Writes the profile (once; later calls do nothing).
pub fn finish() {
    #[cfg(feature = "heap-profile")]
    {
        // Taken out of the lock first: dropping the profiler writes the file.
        let profiler = PROFILER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        drop(profiler);
    }
}
