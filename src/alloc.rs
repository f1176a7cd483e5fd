//! The allocator. glibc builds use glibc's malloc, tuned: glibc gives every thread its own heap
//! arena and keeps freed memory there; with a handful of threads that doubles the resident size
//! of a small index. Two arenas, a fixed mmap threshold and a trim after the cold index keep the
//! RSS close to what is in use. The static musl builds (the Raspberry Pi binaries) use mimalloc
//! instead of musl's malloc, which made a cold index 3x slower and its RSS 40 % bigger;
//! mimalloc returns memory by itself, so both functions do nothing there.

#[cfg(target_env = "musl")]
#[global_allocator]
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
    fn malloc_trim(pad: usize) -> i32;
}

/// glibc's `M_ARENA_MAX` and `M_MMAP_THRESHOLD`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_ARENA_MAX: i32 = -8;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_MMAP_THRESHOLD: i32 = -3;

/// Call first thing in `main`, before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation policy; called before other threads exist.
    unsafe {
        mallopt(M_ARENA_MAX, 2);
        // glibc's default (128 KiB), fixed: left to itself, glibc raises it to the size of
        // each big block freed, up to 32 MiB, and the checkpoint's buffers (~11 MiB each at
        // 100k sessions) then made later big blocks come from the heap, where they stay. Peak
        // RSS at 100k sessions: first start 210-218 -> 190-199 MB, restart 248 -> 237 MB.
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Hands free heap pages back to the system (after the cold index).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own heap.
    unsafe {
        malloc_trim(0);
    }
}
