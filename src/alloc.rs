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

use std::alloc::{GlobalAlloc, Layout};

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
        // SAFETY: plain calls into mimalloc with the layout's size and alignment.
        unsafe {
            if layout.align() <= PLAIN_ALIGN {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
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
        // SAFETY: `ptr` came from this allocator with `layout`; the alignment stays the same.
        unsafe {
            if layout.align() <= PLAIN_ALIGN {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
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
}
