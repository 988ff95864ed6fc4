//! The allocator of the `mailsim` binary and of the simulation's benchmarks: mimalloc, called
//! through its plain entry points.
//!
//! The `mimalloc` crate's allocator asks for every block through `mi_malloc_aligned`, whose
//! alignment checks cost about a third of a small allocation; nearly every block a run asks for
//! needs no more than the 16 bytes `mi_malloc` always gives, and a run makes millions (a protocol
//! line, a parsed address, a reply). Blocks that need more alignment still go the aligned way.
//!
//! mimalloc asks the kernel for transparent huge pages: a run of a million messages touches
//! gigabytes, and 2 MiB pages take a few thousand page faults instead of hundreds of thousands,
//! and far fewer TLB misses. Live mode, whose connection threads are mostly idle, turns them off
//! with [`without_huge_pages`].
//!
//! The first touch of fresh memory is costly on a virtual machine (the kernel clears each page,
//! and the host backs it): in a run of 100,000 messages about 40 % of the time went to it. A run
//! is single-threaded, so [`prefault_large_blocks`] gives that work to a helper thread on the
//! other core: every block of a megabyte or more (the trace's event list and its text chunks)
//! is faulted in there as soon as it is handed out, before the simulation writes to it.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};

use libmimalloc_sys as mi;

/// The alignment `mi_malloc` guarantees for every block (`MI_MAX_ALIGN_SIZE`).
const PLAIN_ALIGN: usize = 16;

/// mimalloc, with small alignments taking the short path.
pub struct MailsimAlloc;

// SAFETY: every block comes from mimalloc and goes back to it; a block is freed or resized by
// the function that matches how it was asked for (mimalloc's free and realloc accept blocks of
// either kind, and `mi_realloc` keeps the 16-byte alignment).
unsafe impl GlobalAlloc for MailsimAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= prefault::MIN {
            // SAFETY: as below.
            return unsafe { alloc_large(layout) };
        }
        // SAFETY: plain calls into mimalloc with the layout's size and alignment.
        unsafe { mi_alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if layout.align() <= PLAIN_ALIGN {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= prefault::MIN {
            // SAFETY: as below.
            return unsafe { realloc_large(ptr, layout, new_size) };
        }
        // SAFETY: `ptr` came from this allocator with `layout`; the alignment stays the same.
        unsafe { mi_realloc(ptr, layout, new_size) }
    }
}

/// mimalloc's allocation for the layout: the plain entry point where it is enough.
#[inline(always)]
unsafe fn mi_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: plain calls into mimalloc with the layout's size and alignment.
    unsafe {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }
}

#[inline(always)]
unsafe fn mi_realloc(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: `ptr` came from mimalloc with `layout`; the alignment stays the same.
    unsafe {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_realloc(ptr.cast(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

/// A block of a megabyte or more: noted for the helper thread to fault in. Out of line, so
/// that the millions of small blocks a run asks for go straight to mimalloc.
#[cold]
#[inline(never)]
unsafe fn alloc_large(layout: Layout) -> *mut u8 {
    // SAFETY: as in `mi_alloc`.
    let p = unsafe { mi_alloc(layout) };
    prefault::ask(p, layout.size());
    p
}

#[cold]
#[inline(never)]
unsafe fn realloc_large(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: as in `mi_realloc`.
    let p = unsafe { mi_realloc(ptr, layout, new_size) };
    // What was there before has been touched already; the new tail has not.
    if !p.is_null() && new_size > layout.size() {
        // SAFETY: the block is `new_size` bytes long.
        prefault::ask(unsafe { p.add(layout.size()) }, new_size - layout.size());
    }
    p
}

/// Has large blocks faulted in by a helper thread from now on (see the module's comment). For
/// the simulation's long runs; live mode and the window have no use for it.
pub fn prefault_large_blocks() {
    #[cfg(target_os = "linux")]
    prefault::start();
}

/// The helper thread and the blocks waiting for it.
mod prefault {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// Blocks smaller than this are left to the program: faulting them in elsewhere would cost
    /// more in handing over than it saves.
    pub const MIN: usize = 1 << 20;
    /// How much the helper faults in at a time before it looks for newer blocks, which the
    /// program is about to write to first.
    const SLICE: usize = 4 << 20;
    const PAGE: usize = 4096;

    static ON: AtomicBool = AtomicBool::new(false);
    static WAITING: Mutex<Stack> = Mutex::new(Stack {
        blocks: [(0, 0); 64],
        len: 0,
    });
    static WAKE: Condvar = Condvar::new();

    /// Address ranges still to be faulted in, newest on top. A fixed array: the allocator must
    /// not allocate to note a block. When it is full, a block is left to the program.
    pub struct Stack {
        blocks: [(usize, usize); 64],
        len: usize,
    }

    /// Notes a block of `len` bytes at `p` for the helper, if it runs.
    pub fn ask(p: *mut u8, len: usize) {
        if p.is_null() || !ON.load(Ordering::Relaxed) {
            return;
        }
        // Only whole pages inside the block: the pages at its ends may hold other blocks.
        let start = (p as usize).next_multiple_of(PAGE);
        let end = (p as usize + len) / PAGE * PAGE;
        if end > start {
            push((start, end));
        }
    }

    fn push(range: (usize, usize)) {
        let mut w = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        if w.len < w.blocks.len() {
            let n = w.len;
            w.blocks[n] = range;
            w.len += 1;
            WAKE.notify_one();
        }
    }

    #[cfg(target_os = "linux")]
    pub fn start() {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("prefault".into())
                .spawn(helper);
            ON.store(spawned.is_ok(), Ordering::Relaxed);
        });
    }

    /// Faults in the newest block a slice at a time, for ever. Faulting in a range that has
    /// been freed and reused meanwhile is harmless: MADV_POPULATE_WRITE maps the pages that
    /// are missing, as a write would, and changes no byte of those already there; a range no
    /// longer mapped only makes it fail.
    #[cfg(target_os = "linux")]
    fn helper() {
        loop {
            let (start, end) = {
                let mut w = WAITING.lock().unwrap_or_else(|e| e.into_inner());
                while w.len == 0 {
                    w = WAKE.wait(w).unwrap_or_else(|e| e.into_inner());
                }
                w.len -= 1;
                let (start, end) = w.blocks[w.len];
                let cut = end.min(start + SLICE);
                if cut < end {
                    // The rest waits under the newer blocks' turn.
                    let n = w.len;
                    w.blocks[n] = (cut, end);
                    w.len += 1;
                }
                (start, cut)
            };
            // SAFETY: madvise with MADV_POPULATE_WRITE reads and writes no memory of the
            // program (see above); its failure is ignored, as the program faults pages in
            // itself anyway.
            unsafe {
                libc::madvise(
                    start as *mut libc::c_void,
                    end - start,
                    libc::MADV_POPULATE_WRITE,
                );
            }
        }
    }
}

/// Turns transparent huge pages off for the rest of the process: live mode keeps a thread and a
/// mimalloc heap per connection, mostly idle, and each would hold a 2 MiB page instead of a few
/// KiB (measured with `examples/live_load.rs`). Linux only; elsewhere nothing changes.
pub fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this process; its result (an
    // old kernel without the option) changes nothing but memory use, so it is not checked.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_alignment_and_contents_through_resizing() {
        let a = MailsimAlloc;
        for (size, align) in [(1, 1), (24, 8), (100, 16), (48, 64), (5000, 4096)] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: the layouts are valid and non-zero in size; each block is used within
            // its size and freed once with the layout it has.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null() && (p as usize).is_multiple_of(align));
                p.write_bytes(0xAB, size);
                let q = a.realloc(p, layout, size * 3);
                assert!((q as usize).is_multiple_of(align));
                assert!(
                    std::slice::from_raw_parts(q, size)
                        .iter()
                        .all(|&b| b == 0xAB)
                );
                a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                let z = a.alloc_zeroed(layout);
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                a.dealloc(z, layout);
            }
        }
    }

    #[test]
    fn large_blocks_faulted_in_elsewhere_keep_what_is_written_to_them() {
        prefault_large_blocks();
        let a = MailsimAlloc;
        for round in 0..8u8 {
            let size = (3 << 20) + usize::from(round) * 4099;
            let layout = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: as in the test above; each block is written within its size only.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                // Written at once, while the helper may still be faulting the same pages in.
                p.write_bytes(round, size);
                let q = a.realloc(p, layout, size * 2);
                q.add(size).write_bytes(!round, size);
                let block = std::slice::from_raw_parts(q, size * 2);
                assert!(block[..size].iter().all(|&b| b == round));
                assert!(block[size..].iter().all(|&b| b == !round));
                a.dealloc(q, Layout::from_size_align(size * 2, 8).unwrap());
            }
        }
    }
}
