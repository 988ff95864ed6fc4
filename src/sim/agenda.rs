//! The scheduler's agenda: what is due next, in order of virtual time and, at equal times, in
//! the order it was scheduled. That order is what makes a run deterministic.
//!
//! Nearly everything a run schedules is due within a few hundred milliseconds (a line or a DNS
//! message crossing a link, even after a TCP retransmission), so the agenda is a timing wheel:
//! one first-in-first-out list per millisecond of the next [`SPAN`] milliseconds, and two
//! levels of bitmaps that find the next list holding something. Scheduling and taking the next
//! event cost a few instructions each, against a binary heap's logarithm of comparisons and
//! moves, and the cost does not grow with the number of events in flight. What is due later (a
//! DNS timeout, a queue's retry) waits in a binary heap, ordered by time and a scheduling
//! number, and moves onto the wheel, in that order, as soon as its time comes within reach:
//! before anything else can be scheduled for the same millisecond, so the lists keep the
//! scheduling order.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

/// How many milliseconds ahead the wheel reaches (a power of two, at most 4,096): the links'
/// latencies of the lessons and the benchmark, with a retransmission. A wider wheel would take
/// fewer events through the heap, but every run sets up all its lists, and a lesson's run took
/// a fifth longer with 4,096 of them.
const SPAN: u64 = 256;
const WORDS: usize = (SPAN / 64) as usize;
const _: () = assert!(WORDS <= 64, "one summary word covers the bitmap");

/// Events of type `T`, each due at a virtual time in milliseconds.
pub struct Agenda<T> {
    /// The events due at time `t` in `[start, start + SPAN)`, at index `t % SPAN`, in the order
    /// they were scheduled.
    slots: Box<[VecDeque<T>]>,
    /// Bit `i` is set when `slots[i]` holds something.
    occupied: [u64; WORDS],
    /// Bit `w` is set when `occupied[w]` is not zero.
    summary: u64,
    /// Nothing is due before this: the time of the last event taken.
    start: u64,
    /// The events due at `start + SPAN` or later.
    later: BinaryHeap<Reverse<Later<T>>>,
    /// Numbers the events put into `later`, to keep their order at equal times.
    seq: u64,
}

struct Later<T> {
    t: u64,
    seq: u64,
    event: T,
}

impl<T> PartialEq for Later<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl<T> Eq for Later<T> {}
impl<T> PartialOrd for Later<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Later<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.t, self.seq).cmp(&(o.t, o.seq))
    }
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Agenda<T> {
    pub fn new() -> Self {
        Self {
            slots: (0..SPAN).map(|_| VecDeque::new()).collect(),
            occupied: [0; WORDS],
            summary: 0,
            start: 0,
            later: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Schedules `event` at `t`, after everything already scheduled for `t`. A time before the
    /// last event taken counts as that time: the clock never runs backwards.
    pub fn push(&mut self, t: u64, event: T) {
        let t = t.max(self.start);
        if t - self.start < SPAN {
            self.put_on_wheel(t, event);
        } else {
            self.seq += 1;
            self.later.push(Reverse(Later {
                t,
                seq: self.seq,
                event,
            }));
        }
    }

    /// When the next event is due.
    pub fn peek_time(&self) -> Option<u64> {
        self.next_on_wheel()
            .or_else(|| self.later.peek().map(|Reverse(l)| l.t))
    }

    /// Takes the next event and its time.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let t = self.peek_time()?;
        if t != self.start {
            self.start = t;
            self.pull_in();
        }
        let i = (t % SPAN) as usize;
        let slot = &mut self.slots[i];
        let event = slot.pop_front().expect("an occupied slot holds an event");
        if slot.is_empty() {
            self.occupied[i / 64] &= !(1 << (i % 64));
            if self.occupied[i / 64] == 0 {
                self.summary &= !(1 << (i / 64));
            }
        }
        Some((t, event))
    }

    fn put_on_wheel(&mut self, t: u64, event: T) {
        let i = (t % SPAN) as usize;
        self.slots[i].push_back(event);
        self.occupied[i / 64] |= 1 << (i % 64);
        self.summary |= 1 << (i / 64);
    }

    /// Moves what has come within the wheel's reach onto it, earliest (and first scheduled)
    /// first.
    fn pull_in(&mut self) {
        let reach = self.start.saturating_add(SPAN);
        while self.later.peek().is_some_and(|Reverse(l)| l.t < reach) {
            let Reverse(l) = self.later.pop().expect("peeked");
            self.put_on_wheel(l.t, l.event);
        }
    }

    /// The earliest time on the wheel: the first occupied slot at or after `start`'s, going
    /// round once.
    fn next_on_wheel(&self) -> Option<u64> {
        let from = (self.start % SPAN) as usize;
        let (word, bit) = (from / 64, from % 64);
        let first = |w: usize, bits: u64| w * 64 + bits.trailing_zeros() as usize;
        // In turn: the start's own word from its bit on, the words after it, the words before
        // it, and the start's word below its bit (times just under `start + SPAN`).
        let here = self.occupied[word] >> bit << bit;
        let after = self.summary & (u64::MAX << word << 1);
        let before = self.summary & ((1 << word) - 1);
        let found = if here != 0 {
            first(word, here)
        } else if after != 0 {
            let w = after.trailing_zeros() as usize;
            first(w, self.occupied[w])
        } else if before != 0 {
            let w = before.trailing_zeros() as usize;
            first(w, self.occupied[w])
        } else if self.occupied[word] != 0 {
            first(word, self.occupied[word])
        } else {
            return None;
        };
        let ahead = (found as u64 + SPAN - from as u64) % SPAN;
        Some(self.start + ahead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Drains the agenda into (time, event) pairs.
    fn drain(a: &mut Agenda<u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| a.pop()).collect()
    }

    #[test]
    fn equal_times_come_out_in_scheduling_order() {
        let mut a = Agenda::new();
        for (t, e) in [(5, 1), (3, 2), (5, 3), (3, 4), (9000, 5), (9000, 6)] {
            a.push(t, e);
        }
        assert_eq!(
            drain(&mut a),
            [(3, 2), (3, 4), (5, 1), (5, 3), (9000, 5), (9000, 6)]
        );
        assert_eq!(a.peek_time(), None);
    }

    #[test]
    fn events_from_the_heap_go_before_those_scheduled_after_them() {
        let mut a = Agenda::new();
        a.push(SPAN + 10, 1); // beyond the wheel: waits in the heap
        a.push(20, 2);
        assert_eq!(a.pop(), Some((20, 2))); // the wheel now reaches SPAN + 10
        a.push(SPAN + 10, 3);
        assert_eq!(drain(&mut a), [(SPAN + 10, 1), (SPAN + 10, 3)]);
    }

    #[test]
    fn the_past_counts_as_now_and_the_wheel_wraps() {
        let mut a = Agenda::new();
        a.push(SPAN * 3 - 2, 1);
        assert_eq!(a.pop(), Some((SPAN * 3 - 2, 1)));
        a.push(0, 2); // in the past: due at once
        a.push(SPAN * 3 + 5, 3); // across the wheel's end
        a.push(SPAN * 3 - 2 + SPAN - 1, 4); // the last slot in reach
        assert_eq!(
            drain(&mut a),
            [(SPAN * 3 - 2, 2), (SPAN * 3 + 5, 3), (SPAN * 4 - 3, 4)]
        );
        assert_eq!(a.peek_time(), None);
    }

    proptest! {
        /// The agenda gives what a binary heap ordered by (time, scheduling number) gives, with
        /// pushes and pops interleaved and times near and far.
        #[test]
        fn matches_a_binary_heap(ops in prop::collection::vec(
            prop_oneof![
                (0u64..100).prop_map(Some),
                (0u64..3 * SPAN).prop_map(Some),
                (0u64..100_000).prop_map(Some),
                Just(None),
            ],
            0..400,
        )) {
            let mut agenda = Agenda::new();
            let mut model = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u32);
            for op in ops {
                match op {
                    Some(dt) => {
                        seq += 1;
                        agenda.push(now + dt, seq);
                        model.push(Reverse((now + dt, seq)));
                    }
                    None => {
                        let expected = model.pop().map(|Reverse(x)| x);
                        prop_assert_eq!(agenda.peek_time(), expected.map(|(t, _)| t));
                        prop_assert_eq!(agenda.pop(), expected);
                        if let Some((t, _)) = expected {
                            now = t;
                        }
                    }
                }
            }
            let rest: Vec<_> = std::iter::from_fn(|| model.pop().map(|Reverse(x)| x)).collect();
            prop_assert_eq!(drain(&mut agenda), rest);
        }
    }
}
