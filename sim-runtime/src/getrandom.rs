//! Randomness that code reads without asking `sim`: the `getrandom` crate.
//!
//! Libraries take randomness from the OS through the `getrandom` crate:
//! `rand::random()` and `rand::rng()` seed their thread-local generator from
//! it, `uuid::Uuid::new_v4()` and `rand`'s `OsRng` / `SysRng` read it
//! directly, and so do WebSocket keys (tungstenite) and many nonces. Such
//! draws make two runs of a seed differ. With the cargo feature `getrandom`
//! and the `getrandom_backend="custom"` cfg, `sim` becomes that crate's
//! backend:
//!
//! - **inside a simulation** the bytes come from the seed, from a ChaCha
//!   stream of their own (so they change no other draw), and every fill is
//!   recorded in the run's fingerprint (an [`EventKind::Data`] event
//!   `getrandom.fill`), so the determinism check sees them;
//! - **outside one** (another thread, or no simulation at all) they come
//!   from the OS: `/dev/urandom` on unix, elsewhere std's OS-keyed
//!   `RandomState` (a fill never fails and never panics).
//!
//! `rand`'s thread-local generator (`rand::rng()`, behind `rand::random()`)
//! is seeded once per thread and reseeds only every 64 KiB, so a seed alone
//! would not make it repeat between runs on the same thread. With the
//! feature on, every `block_on` reseeds the thread-local generators of
//! `rand` 0.9 and 0.10 from the seed when it starts, and from the OS when it
//! returns.
//!
//! # Enabling it
//!
//! ```toml
//! [dev-dependencies]
//! sim = { version = "0.1", features = ["getrandom"] }
//! ```
//!
//! and build the tests with the cfg that makes `getrandom` 0.3 and 0.4 call
//! a custom backend (it applies to the whole build, so a separate target
//! directory keeps the normal build's cache):
//!
//! ```sh
//! RUSTFLAGS='--cfg getrandom_backend="custom"' CARGO_TARGET_DIR=target/getrandom \
//!     cargo test --features getrandom
//! ```
//!
//! The backend is one symbol for the whole program: a crate that defines its
//! own `getrandom` custom backend cannot link with this feature on. Built
//! with the cfg but without the feature, no backend is defined and the link
//! fails, naming `__getrandom_v03_custom`.
//!
//! | `getrandom` | pulled in by | routed |
//! | --- | --- | --- |
//! | 0.4 | `rand` 0.10, `uuid` 1.x (current releases) | yes, with the cfg |
//! | 0.3 | `rand` 0.9, `uuid` 1.x (earlier releases) | yes, with the cfg |
//! | 0.2 | `rand` 0.8 | no on Linux, macOS, Windows and the other targets `getrandom` 0.2 supports: it calls a custom backend (its `custom` feature) only on targets it has no backend of its own for, such as `wasm32-unknown-unknown`; there `sim` is that backend too |
//!
//! [`routed`] says whether this build routes it; [`fill`] is what the
//! backend does, callable directly.
//!
//! ```
//! let bytes = |seed| {
//!     sim::Runtime::new(seed).block_on(async {
//!         let mut key = [0u8; 16];
//!         sim::getrandom::fill(&mut key);
//!         key
//!     })
//! };
//! assert_eq!(bytes(1), bytes(1));
//! assert_ne!(bytes(1), bytes(2));
//! let mut outside = [0u8; 16];
//! sim::getrandom::fill(&mut outside); // from the OS
//! ```
//!
//! [`EventKind::Data`]: crate::EventKind::Data

use std::cell::RefCell;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::context;
use crate::executor::Handle;
use crate::seed::{Stream, stream};

/// True when this build has the `getrandom` feature: `sim` defines the
/// `getrandom` crate's custom backend.
pub fn enabled() -> bool {
    cfg!(feature = "getrandom")
}

/// True when this build routes the `getrandom` crate (0.3 and 0.4) to
/// `sim`: the feature is on and the build has
/// `--cfg getrandom_backend="custom"`. A test that relies on it can assert
/// it, so a build without the flag fails with a clear message instead of
/// running unrepeatably.
pub fn routed() -> bool {
    ROUTED
}

const ROUTED: bool = cfg!(all(feature = "getrandom", getrandom_backend = "custom"));

/// Fills `dest` the way the `getrandom` backend does: inside a simulation
/// from the seed's entropy stream (recorded in the fingerprint), outside one
/// from the OS. Never panics.
pub fn fill(dest: &mut [u8]) {
    if dest.is_empty() {
        return;
    }
    match context::current_quiet() {
        Some(handle) => fill_from_seed(&handle, dest),
        None => os::fill(dest),
    }
}

/// The per-simulation entropy stream, created at the first fill.
struct Entropy {
    rng: RefCell<ChaCha8Rng>,
}

fn fill_from_seed(handle: &Handle, dest: &mut [u8]) {
    let seed = handle.seed();
    handle.note_fixed_draw();
    let entropy = handle.extension(|| Entropy {
        rng: RefCell::new(stream(seed, Stream::Entropy)),
    });
    match entropy.rng.try_borrow_mut() {
        Ok(mut rng) => rng.fill_bytes(dest),
        // Unreachable (a fill never calls back into `getrandom`), but a
        // backend must not panic: the bytes then come from the OS, and the
        // event below still makes the run's fingerprint differ.
        Err(_) => os::fill(dest),
    }
    // Recorded unless the simulation's state is busy, which it never is
    // while code that can draw randomness runs.
    handle.try_record_data("getrandom.fill", 0, dest);
}

/// The OS's randomness, without panicking.
mod os {
    /// `/dev/urandom` where there is one; otherwise, or if reading fails,
    /// hashes keyed by std's OS-seeded `RandomState`.
    pub(super) fn fill(dest: &mut [u8]) {
        #[cfg(unix)]
        if urandom(dest) {
            return;
        }
        hashed(dest);
    }

    #[cfg(unix)]
    fn urandom(dest: &mut [u8]) -> bool {
        use std::fs::File;
        use std::io::Read;
        use std::sync::OnceLock;

        static URANDOM: OnceLock<Option<File>> = OnceLock::new();
        match URANDOM.get_or_init(|| File::open("/dev/urandom").ok()) {
            // `&File` reads too: no lock, shared by every thread.
            Some(file) => {
                let mut file: &File = file;
                file.read_exact(dest).is_ok()
            }
            None => false,
        }
    }

    /// SipHash keyed by a fresh `RandomState` per word (its keys come from
    /// the OS once per thread and change with every `RandomState`), over a
    /// process-wide counter and the wall clock.
    fn hashed(dest: &mut [u8]) {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::time::{SystemTime, UNIX_EPOCH};

        static COUNTER: AtomicU64 = AtomicU64::new(0);
        for chunk in dest.chunks_mut(8) {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            if let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) {
                hasher.write_u128(now.as_nanos());
            }
            let word = hasher.finish().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    #[cfg(test)]
    pub(super) fn hashed_for_test(dest: &mut [u8]) {
        hashed(dest)
    }
}

#[cfg(feature = "getrandom")]
pub(crate) use thread_rngs::ThreadRngs;

/// Reseeding `rand`'s thread-local generators around a `block_on`.
#[cfg(feature = "getrandom")]
mod thread_rngs {
    /// Created before a `block_on` enters its simulation: initializes the
    /// thread-local generators of `rand` 0.9 and 0.10 outside it (so the
    /// first run on a thread draws no more than later ones), reseeds them
    /// from the seed once entered ([`ThreadRngs::reseed`]), and from the OS
    /// when dropped, after the simulation was left.
    pub(crate) struct ThreadRngs(());

    impl ThreadRngs {
        pub(crate) fn new() -> ThreadRngs {
            if super::ROUTED {
                drop(rand09::rng());
                drop(rand::rng());
            }
            ThreadRngs(())
        }

        /// Reseeds both generators from wherever `getrandom` draws now.
        pub(crate) fn reseed(&self) {
            if super::ROUTED {
                // Neither fails: the backend never returns an error.
                let _ = rand09::rng().reseed();
                let _ = rand::rng().reseed();
            }
        }
    }

    impl Drop for ThreadRngs {
        fn drop(&mut self) {
            self.reseed();
        }
    }
}

/// The backends the `getrandom` crate calls (feature `getrandom`). The only
/// unsafe code of `sim`: each is an exported symbol that `getrandom` declares
/// and calls with a pointer and a length.
#[cfg(feature = "getrandom")]
mod backend {
    /// `getrandom` 0.3 and 0.4 (with `--cfg getrandom_backend="custom"`):
    /// both declare this symbol, with error types of the same layout (a
    /// non-zero `i32`, or `usize` on UEFI), and `Ok(())` is what it returns.
    ///
    /// # Safety
    /// `dest` must be valid for writes of `len` bytes (it may be
    /// uninitialized), as `getrandom` guarantees.
    // SAFETY: exporting the symbol is sound because it is defined nowhere
    // else in `sim`, and a second definition elsewhere in the program fails
    // the link rather than choosing one silently.
    #[allow(unsafe_code)]
    #[unsafe(no_mangle)]
    unsafe extern "Rust" fn __getrandom_v03_custom(
        dest: *mut u8,
        len: usize,
    ) -> Result<(), ::getrandom::Error> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the caller hands a buffer valid for `len` writable bytes;
        // it may be uninitialized, so it is zeroed before a slice is made of
        // it, and nothing else refers to it during this call.
        let buf = unsafe {
            std::ptr::write_bytes(dest, 0, len);
            std::slice::from_raw_parts_mut(dest, len)
        };
        super::fill(buf);
        Ok(())
    }

    /// `getrandom` 0.2 (feature `custom`), which calls it only on targets it
    /// has no backend of its own for. Returns 0: success.
    ///
    /// # Safety
    /// `dest` must be valid for writes of `len` bytes, as `getrandom` 0.2
    /// guarantees (it zeroes the buffer before the call).
    // SAFETY: as above, the symbol is defined once; its signature is the one
    // `getrandom` 0.2's `register_custom_getrandom!` exports.
    #[allow(unsafe_code)]
    #[unsafe(no_mangle)]
    unsafe fn __getrandom_custom(dest: *mut u8, len: usize) -> u32 {
        if len == 0 {
            return 0;
        }
        // SAFETY: the caller hands a buffer valid for `len` writable bytes;
        // zeroing it first makes the slice sound even if it was not
        // initialized, and nothing else refers to it during this call.
        let buf = unsafe {
            std::ptr::write_bytes(dest, 0, len);
            std::slice::from_raw_parts_mut(dest, len)
        };
        super::fill(buf);
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(seed: u64, len: usize) -> (Vec<u8>, u64) {
        let mut rt = crate::Runtime::new(seed);
        let bytes = rt.block_on(async move {
            let mut bytes = vec![0u8; len];
            fill(&mut bytes);
            bytes
        });
        (bytes, rt.fingerprint())
    }

    #[test]
    fn inside_a_simulation_the_bytes_are_the_seeds() {
        assert_eq!(draw(7, 32), draw(7, 32));
        assert_ne!(draw(7, 32).0, draw(8, 32).0);
        // The entropy stream is its own: not the user stream of `sim::rand`.
        let user = crate::Runtime::new(7).block_on(async {
            let mut bytes = vec![0u8; 32];
            crate::rand::fill(&mut bytes[..]);
            bytes
        });
        assert_ne!(draw(7, 32).0, user);
    }

    #[test]
    fn every_fill_is_recorded() {
        let mut rt = crate::Builder::new().seed(3).record_trace(true).build();
        let before = rt.events();
        rt.block_on(async {
            fill(&mut [0u8; 5]);
            fill(&mut [0u8; 0]);
        });
        let fills: Vec<_> = rt
            .trace()
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                crate::EventKind::Data {
                    what: "getrandom.fill",
                    len,
                    ..
                } => Some(len),
                _ => None,
            })
            .collect();
        // The empty fill draws nothing and records nothing.
        let reseeds = if ROUTED { [32, 32].as_slice() } else { &[] };
        assert_eq!(fills, [reseeds, &[5]].concat());
        assert!(rt.events() > before);
    }

    #[test]
    fn outside_a_simulation_the_bytes_come_from_the_os() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a);
        fill(&mut b);
        assert_ne!(a, b);
        let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
        os::hashed_for_test(&mut a);
        os::hashed_for_test(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0; 13]);
    }
}
