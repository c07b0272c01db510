//! A hint to the CPU: fetch this address into the cache now, a poll or
//! two before it is read.
//!
//! The executor picks a task uniformly at random, so with many tasks every
//! poll starts from memory no cache holds: the ready entry, the task's
//! slot, its future. The pick of the next few steps is known in advance
//! (the schedule stream is drawn ahead), so their memory can be fetched
//! while the current task runs.

/// Asks the CPU to bring the cache line holding `p` into its caches. A
/// hint only: nothing is read, and any address (dangling, null) is fine.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn prefetch<T: ?Sized>(p: *const T) {
    let p = p.cast::<u8>();
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetcht0` reads nothing the program can observe and never
    // faults, whatever the address; `sse` is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    // SAFETY: `prfm` is a hint: it reads nothing the program can observe
    // and never faults, whatever the address.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(any(miri, not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
    let _ = p;
}
