//! A bounded, counting global allocator for the fuzz harness and tests:
//! it counts live bytes and the peak since the last [`reset_peak`], and
//! refuses (the process then aborts, which the supervising harness records
//! as a crash with the input saved) any request that would take live bytes
//! past the hard cap, `PAINTERS_FUZZ_ALLOC_CAP_MB` (default 4096). Install
//! it with `#[global_allocator] static A: painters_fuzz::alloc::Bounded = painters_fuzz::alloc::Bounded;`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CAP: AtomicUsize = AtomicUsize::new(4096 << 20);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The allocator (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Bounded;

/// Sets the hard cap from `PAINTERS_FUZZ_ALLOC_CAP_MB` (call once at start).
pub fn configure() {
    if let Some(mb) = std::env::var("PAINTERS_FUZZ_ALLOC_CAP_MB").ok().and_then(|v| v.parse::<usize>().ok()) {
        CAP.store(mb.saturating_mul(1 << 20), Ordering::Relaxed);
    }
}

/// Whether [`Bounded`] is the global allocator of this process.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Starts a new peak measurement; returns the live bytes now.
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The most bytes live at once since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

fn refuse(size: usize) {
    // No allocation here: a fixed message and digits formatted on the stack.
    let mut buf = [0u8; 20];
    let mut n = size;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    let mut err = std::io::stderr();
    let _ = err.write_all(b"painters-fuzz: refused an allocation of ");
    let _ = err.write_all(&buf[i..]);
    let _ = err.write_all(b" bytes (over PAINTERS_FUZZ_ALLOC_CAP_MB): unbounded allocation\n");
}

unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        let size = layout.size();
        let live = LIVE.fetch_add(size, Ordering::Relaxed).saturating_add(size);
        if live > CAP.load(Ordering::Relaxed) {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            refuse(size);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            LIVE.fetch_sub(size, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old {
            let grow = new_size - old;
            let live = LIVE.fetch_add(grow, Ordering::Relaxed).saturating_add(grow);
            if live > CAP.load(Ordering::Relaxed) {
                LIVE.fetch_sub(grow, Ordering::Relaxed);
                refuse(new_size);
                return std::ptr::null_mut();
            }
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(old - new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            // The old block stays allocated with its old size.
            if new_size > old {
                LIVE.fetch_sub(new_size - old, Ordering::Relaxed);
            } else {
                LIVE.fetch_add(old - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}
