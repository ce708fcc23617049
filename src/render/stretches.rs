//! Handing out a run's chunks to render workers: contiguous stretches, with
//! work stealing.
//!
//! A worker renders best front to back through a stretch of consecutive
//! chunks, because its decoders then stream each track once; a worker that
//! starts mid-track decodes that track from its beginning. So the chunks are
//! split into one contiguous stretch per worker, and a worker whose stretch
//! is done takes the second half of the largest stretch left. Nobody idles
//! while more than one chunk is waiting, whatever the chunks cost, and a
//! worker starts afresh only when it steals (a few times per run).
//!
//! Fixed runs of chunks handed out in turn (what this replaced) left one
//! core idle for up to a whole run at the end: on a 21-chunk render on two
//! cores, 12 chunks on one and 9 on the other.

use std::ops::Range;
use std::sync::Mutex;

/// Job indices `0..n`, split into contiguous stretches, one per worker.
pub struct Stretches {
    left: Mutex<Vec<Range<usize>>>,
}

impl Stretches {
    /// Jobs `0..jobs` split as evenly as possible among `workers` (≥ 1).
    pub fn new(jobs: usize, workers: usize) -> Stretches {
        let workers = workers.max(1);
        let left = (0..workers)
            .map(|w| jobs * w / workers..jobs * (w + 1) / workers)
            .collect();
        Stretches {
            left: Mutex::new(left),
        }
    }

    /// The next job for `worker` (`< workers`): the next of its own
    /// stretch, or, once that is done, the first of the second half it
    /// takes from the largest stretch left. `None` when no job is left.
    pub fn next(&self, worker: usize) -> Option<usize> {
        // A worker that panicked while holding the lock left the ranges
        // consistent (every update is a single assignment), so go on.
        let mut left = self
            .left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if left.get(worker)?.is_empty() {
            let (victim, len) = left
                .iter()
                .map(ExactSizeIterator::len)
                .enumerate()
                .max_by_key(|&(i, len)| (len, std::cmp::Reverse(i)))?;
            if len == 0 {
                return None;
            }
            // The victim keeps the first half, which its decoders are at.
            let end = left[victim].end;
            let mid = end - len.div_ceil(2);
            left[victim].end = mid;
            left[worker] = mid..end;
        }
        let job = left[worker].start;
        left[worker].start += 1;
        Some(job)
    }

    /// Hands out no more jobs (after a failure).
    pub fn stop(&self) {
        let mut left = self
            .left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in left.iter_mut() {
            r.start = r.end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates `workers` workers where job `j` costs `cost(j)`, the
    /// worker free first taking the next job: (the jobs each worker did, in
    /// order; when each worker finished).
    fn simulate(
        jobs: usize,
        workers: usize,
        cost: impl Fn(usize) -> u64,
    ) -> (Vec<Vec<usize>>, Vec<u64>) {
        let s = Stretches::new(jobs, workers);
        let mut done: Vec<Vec<usize>> = vec![Vec::new(); workers];
        let mut free_at = vec![0u64; workers];
        let mut idle = vec![false; workers];
        while let Some(w) = (0..workers)
            .filter(|&w| !idle[w])
            .min_by_key(|&w| free_at[w])
        {
            match s.next(w) {
                Some(j) => {
                    done[w].push(j);
                    free_at[w] += cost(j);
                }
                None => idle[w] = true,
            }
        }
        (done, free_at)
    }

    #[test]
    fn every_job_is_done_once_and_the_cores_finish_together() {
        for (jobs, workers) in [(0, 2), (1, 2), (2, 2), (21, 2), (21, 4), (5, 8), (100, 3)] {
            // Uneven costs: every third chunk twice as dear.
            let cost = |j: usize| if j.is_multiple_of(3) { 20 } else { 10 };
            let (done, free_at) = simulate(jobs, workers, cost);
            let mut all = done.concat();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..jobs).collect::<Vec<_>>(),
                "{jobs} jobs on {workers}"
            );
            // No worker finishes more than one job's cost after another.
            let first = free_at.iter().min().copied().unwrap_or(0);
            let last = free_at.iter().max().copied().unwrap_or(0);
            assert!(
                last - first <= 20,
                "{jobs} jobs on {workers}: finished at {free_at:?}"
            );
            // Each worker went through a few contiguous stretches, not
            // scattered chunks.
            for d in &done {
                let starts = d.windows(2).filter(|p| p[1] != p[0] + 1).count() + 1;
                assert!(starts <= 8, "{jobs} jobs on {workers}: {d:?}");
            }
        }
    }

    #[test]
    fn an_idle_worker_takes_the_second_half_of_the_largest_stretch() {
        let s = Stretches::new(20, 2);
        // Worker 0 owns 0..10, worker 1 owns 10..20.
        assert_eq!(s.next(0), Some(0));
        assert_eq!(s.next(1), Some(10));
        for j in 1..10 {
            assert_eq!(s.next(0), Some(j));
        }
        // Worker 1 has 11..20 left (9 jobs): worker 0 takes 15..20.
        assert_eq!(s.next(0), Some(15));
        assert_eq!(s.next(1), Some(11));
        s.stop();
        assert_eq!(s.next(0), None);
        assert_eq!(s.next(1), None);
    }

    #[test]
    fn concurrent_workers_share_out_all_jobs_exactly_once() {
        let s = Stretches::new(1000, 4);
        let taken: Vec<Vec<usize>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|w| {
                    let s = &s;
                    scope.spawn(move || std::iter::from_fn(|| s.next(w)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("worker"))
                .collect()
        });
        let mut all: Vec<usize> = taken.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }
}
