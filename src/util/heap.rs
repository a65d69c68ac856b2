//! Giving freed heap back to the kernel.
//!
//! glibc's malloc keeps memory freed in the middle of its heap (and in the
//! arenas of other threads) for reuse: after a flood of short connections
//! the process stays as large as at the flood's peak. `malloc_trim(0)`
//! returns every whole free page. musl's allocator returns memory on its
//! own and has no such call; elsewhere [`trim`] does nothing.

/// Hands the heap's free pages back to the kernel (glibc only).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only walks glibc's own heap under its own
        // locks; it takes no pointer and may be called from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}
