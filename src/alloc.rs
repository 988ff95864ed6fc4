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
//! is single-threaded (`storm` runs one per core), so [`prefault_fresh_memory`] gives that work
//! to a helper thread on the other core: every block of a megabyte or more (the trace's event
//! list and its text chunks) is faulted in there as soon as it is handed out, before the
//! simulation writes to it; and a stretch past the highest smaller block handed out so far
//! (the frontier) is kept faulted in. The frontier is a rough guide to where mimalloc takes its
//! next fresh pages, not an exact one: its arenas are placed one above the other (from a random
//! base above 2 TiB) and filled from their start, but pages of different sizes live in separate
//! 32 MiB chunks, so some of the stretch may wait a while before it is used. Measured, it took
//! most of the page faults off a run's own thread (see BENCHMARKS.md, session 11).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
        if layout.size() >= prefault::NOTED {
            // SAFETY: as below.
            return unsafe { alloc_noted(layout) };
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
        if new_size >= prefault::NOTED {
            // SAFETY: as below.
            return unsafe { realloc_noted(ptr, layout, new_size) };
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

/// A block the helper thread hears of: a megabyte or more is faulted in whole, a smaller one
/// moves the frontier. Out of line, so that the millions of smaller blocks a run asks for go
/// straight to mimalloc.
#[cold]
#[inline(never)]
unsafe fn alloc_noted(layout: Layout) -> *mut u8 {
    // SAFETY: as in `mi_alloc`.
    let p = unsafe { mi_alloc(layout) };
    if layout.size() >= prefault::MIN {
        prefault::ask(p, layout.size());
    } else {
        prefault::frontier(p, layout.size());
    }
    p
}

#[cold]
#[inline(never)]
unsafe fn realloc_noted(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: as in `mi_realloc`.
    let p = unsafe { mi_realloc(ptr, layout, new_size) };
    if new_size < prefault::MIN {
        // A block shrunk in place stays among the large pages it came from.
        if new_size > layout.size() {
            prefault::frontier(p, new_size);
        }
        return p;
    }
    // What was there before has been touched already; the new tail has not.
    if !p.is_null() && new_size > layout.size() {
        // SAFETY: the block is `new_size` bytes long.
        prefault::ask(unsafe { p.add(layout.size()) }, new_size - layout.size());
    }
    p
}

/// Has fresh memory faulted in by a helper thread from now on (see the module's comment). For
/// the simulation's long runs; live mode and the window have no use for it.
pub fn prefault_fresh_memory() {
    #[cfg(target_os = "linux")]
    prefault::start();
}

/// The helper thread and the blocks waiting for it.
mod prefault {
    use super::*;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// Blocks of this size or more are faulted in whole; smaller ones are left to the program,
    /// as faulting them in elsewhere would cost more in handing over than it saves.
    pub const MIN: usize = 1 << 20;
    /// Blocks of this size or more mark the frontier. Smaller ones, the commonest by far, go
    /// straight to mimalloc (noting each cost 2 % more instructions in a run); the larger ones
    /// still come often enough (message texts, growing lists) to show where the frontier is.
    pub const NOTED: usize = 512;
    /// How far ahead of the frontier the helper keeps memory faulted in: at most this, and a
    /// quarter of how far the frontier has moved since the helper first saw it (about what the
    /// run has used), so that a short lesson does not grow by it.
    const AHEAD: usize = 32 << 20;
    /// mimalloc asks for transparent huge pages: a fault brings in this much at once.
    const HUGE_PAGE: usize = 2 << 20;
    /// How often the helper looks at the frontier while no large block waits for it: at the
    /// simulation's pace of a few hundred megabytes a second, a fraction of the stretch ahead.
    /// While the frontier stands still, it looks half as often each time, down to [`LOOK_IDLE`].
    const LOOK_EVERY: Duration = Duration::from_millis(2);
    const LOOK_IDLE: Duration = Duration::from_millis(128);
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
    /// The end of the highest block of [`NOTED`] bytes to [`MIN`] handed out (or grown to that)
    /// since the helper started.
    pub static FRONTIER: AtomicUsize = AtomicUsize::new(0);

    /// Moves the frontier past a block of `len` bytes at `p`, if the helper runs (so that live
    /// mode's threads do not share a cache line for nothing). A plain load and store: threads
    /// racing here (`storm`) may leave the frontier lower than the highest block, and the next
    /// block moves it on; it is only a hint.
    #[inline(always)]
    pub fn frontier(p: *mut u8, len: usize) {
        let end = p as usize + len;
        if !p.is_null() && ON.load(Ordering::Relaxed) && end > FRONTIER.load(Ordering::Relaxed) {
            FRONTIER.store(end, Ordering::Relaxed);
        }
    }

    /// The stretch past the frontier that the helper has faulted in.
    #[cfg(target_os = "linux")]
    #[derive(Default)]
    pub struct Ahead {
        /// The frontier when the helper first saw it.
        first: usize,
        /// Faulted in up to here.
        done: usize,
    }

    #[cfg(target_os = "linux")]
    impl Ahead {
        /// The next huge page to fault in ahead of `frontier`, if the stretch is short of it.
        pub fn next(&mut self, frontier: usize) -> Option<(usize, usize)> {
            if frontier == 0 {
                return None;
            }
            if self.first == 0 {
                self.first = frontier;
            }
            let reach = frontier + (frontier.saturating_sub(self.first) / 4).min(AHEAD);
            // The huge page the frontier is in has been touched already.
            let from = self.done.max(frontier.next_multiple_of(HUGE_PAGE));
            if from + HUGE_PAGE > reach {
                return None;
            }
            self.done = from + HUGE_PAGE;
            Some((from, self.done))
        }
    }

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

    /// Faults in the newest large block a slice at a time, and the stretch ahead of the
    /// frontier a huge page at a time, taking turns, for ever. The turns matter in a long run:
    /// the trace's event list, reserved up front, is gigabytes, and while the helper worked
    /// through it alone the program faulted in its own small-block pages (a tenth of its time
    /// in a million-message run). Faulting in a range that has been freed and reused meanwhile,
    /// or one the program is writing to, is harmless: MADV_POPULATE_WRITE maps the pages that
    /// are missing, as a write would, and changes no byte of those already there; a range that
    /// is not mapped (past the end of mimalloc's arena, say) only makes it fail.
    #[cfg(target_os = "linux")]
    fn helper() {
        let mut ahead = Ahead::default();
        let (mut look, mut seen) = (LOOK_EVERY, 0);
        loop {
            // The frontier's turn: where the program takes its next small-block pages.
            let frontier = FRONTIER.load(Ordering::Relaxed);
            let stepped = ahead.next(frontier).map(populate).is_some();
            // A large block's turn.
            let slice = {
                let mut w = WAITING.lock().unwrap_or_else(|e| e.into_inner());
                if w.len == 0 && !stepped {
                    look = if frontier == seen {
                        (look * 2).min(LOOK_IDLE)
                    } else {
                        LOOK_EVERY
                    };
                    seen = frontier;
                    w = WAKE
                        .wait_timeout(w, look)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                (w.len > 0).then(|| {
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
                })
            };
            if let Some(range) = slice {
                populate(range);
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn populate((start, end): (usize, usize)) {
        // SAFETY: madvise with MADV_POPULATE_WRITE reads and writes no memory of the program
        // (see above); its failure is ignored, as the program faults pages in itself anyway.
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end - start,
                libc::MADV_POPULATE_WRITE,
            );
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

    #[cfg(target_os = "linux")]
    #[test]
    fn the_stretch_ahead_of_the_frontier_grows_with_the_run_up_to_its_limit() {
        const MIB: usize = 1 << 20;
        let start = 1 << 28;
        let mut ahead = prefault::Ahead::default();
        assert_eq!(ahead.next(0), None, "nothing handed out yet");
        assert_eq!(
            ahead.next(start + 100),
            None,
            "nothing used yet: nothing ahead"
        );
        // 16 MiB used: 4 MiB ahead, from the huge page after the frontier's, each page once.
        let frontier = start + 16 * MIB + 100;
        let pages: Vec<_> = std::iter::from_fn(|| ahead.next(frontier)).collect();
        assert_eq!(pages, [(start + 18 * MIB, start + 20 * MIB)]);
        // A gigabyte used: at most 32 MiB ahead, going on from where it stopped.
        let frontier = start + 1024 * MIB;
        let pages: Vec<_> = std::iter::from_fn(|| ahead.next(frontier)).collect();
        assert_eq!(pages.len(), 16);
        assert_eq!(pages[0].0, frontier);
        assert_eq!(pages[15].1, frontier + 32 * MIB);
        assert!(pages.windows(2).all(|w| w[0].1 == w[1].0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn memory_past_the_frontier_is_faulted_in_and_blocks_keep_what_is_written_to_them() {
        prefault_fresh_memory();
        let a = MailsimAlloc;
        let layout = Layout::from_size_align(600, 8).unwrap();
        // Is the huge page after the frontier's resident? Nobody writes to it: the frontier is
        // the end of the highest block (this test's, or another test's in this process).
        let ahead_resident = || {
            let frontier = prefault::FRONTIER.load(Ordering::Relaxed);
            let probe = frontier.next_multiple_of(2 << 20) + 4096;
            let mut vec = 0u8;
            // SAFETY: mincore reads nothing of the program and writes one byte into `vec`.
            let r = unsafe { libc::mincore(probe as *mut libc::c_void, 4096, &mut vec) };
            r == 0 && vec & 1 == 1
        };
        // Blocks a megabyte at a time, each written as soon as it is handed out, until the
        // helper is seen ahead. The stretch grows with how far the frontier has moved since the
        // helper first looked, which may be some way into the first megabytes.
        let per_mib = (1 << 20) / layout.size();
        let mut blocks: Vec<usize> = Vec::new();
        let mut seen_ahead = false;
        while !seen_ahead && blocks.len() < 64 * per_mib {
            for _ in 0..per_mib {
                let i = blocks.len();
                // SAFETY: a valid layout; the block is written within its size.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    p.write_bytes(i as u8, layout.size());
                    blocks.push(p as usize);
                }
            }
            // The helper's turn (it may share the one CPU this test runs on).
            for _ in 0..50 {
                std::thread::sleep(std::time::Duration::from_millis(2));
                if ahead_resident() {
                    seen_ahead = true;
                    break;
                }
            }
        }
        assert!(
            seen_ahead,
            "the memory past the frontier was never faulted in"
        );
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: each block is 600 bytes, written above and freed once here.
            unsafe {
                let block = std::slice::from_raw_parts(p as *const u8, layout.size());
                assert!(block.iter().all(|&b| b == i as u8));
                a.dealloc(p as *mut u8, layout);
            }
        }
    }

    #[test]
    fn large_blocks_faulted_in_elsewhere_keep_what_is_written_to_them() {
        prefault_fresh_memory();
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
