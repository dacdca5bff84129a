//! The matching index behind [`super::Gallery::best_match`]: every stored vector as one row of
//! a row-major f32 matrix, with its owner, and for large galleries an int8 copy used to skip
//! rows that cannot matter. Results are exact either way: the int8 pass only selects rows,
//! whose scores are then computed in f32 by the same code as the plain scan.
//!
//! Why it is exact: a row `v` stored as `v̂ = s_v * q_v` (q in -127..=127, |v - v̂| <= s_v / 2
//! per component) and a query `u` as `û = s_u * q_u` give
//! `|v·u - v̂·û| <= s_v/2 * |u|_1 + s_u/2 * |v̂|_1 <= E` with the gallery-wide maxima of `s_v`
//! and `|v̂|_1`. The true runner-up (best score of the second-best person) is at least the
//! approximate runner-up minus E, so every row that can be the best person's or the runner-up's
//! best row has an approximate score of at least (approximate runner-up - 2E); only those rows
//! are scored exactly. Pure arithmetic, no I/O.

/// Below this many rows the plain f32 scan is as fast; no int8 copy is kept.
pub const COARSE_MIN_ROWS: usize = 2048;

/// Slack for f32 rounding in both passes (scores are cosines in -1..=1).
const ROUNDING: f32 = 1e-5;

#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct MatchIndex {
    dim: usize,
    matrix: Vec<f32>,
    owners: Vec<u32>,
    coarse: Option<Coarse>,
}

/// The int8 rows with their scales.
#[derive(Debug, Clone, PartialEq)]
struct Coarse {
    rows: Vec<i8>,
    scales: Vec<f32>,
    max_scale: f32,
    max_l1: f32,
}

/// Best person (by owner index) and score, and the best score of anyone else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Top {
    pub owner: u32,
    pub score: f32,
    pub runner_up: Option<f32>,
}

/// Symmetric int8 quantisation of one vector: the codes and the scale (0 for a zero vector).
fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    if !(max > 0.0 && max.is_finite()) {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    let codes = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

impl MatchIndex {
    /// The index of `rows` (owner, vector of length `dim`), in order.
    pub fn build<'a>(dim: usize, rows: impl Iterator<Item = (u32, &'a [f32])>) -> Self {
        let mut index = Self { dim, ..Self::default() };
        for (owner, v) in rows {
            index.matrix.extend_from_slice(v);
            index.owners.push(owner);
        }
        if index.owners.len() >= COARSE_MIN_ROWS && dim > 0 {
            let mut coarse = Coarse {
                rows: Vec::with_capacity(index.matrix.len()),
                scales: Vec::new(),
                max_scale: 0.0,
                max_l1: 0.0,
            };
            for v in index.matrix.chunks_exact(dim) {
                let (codes, scale) = quantize(v);
                let l1 = scale * codes.iter().map(|&c| f32::from(c).abs()).sum::<f32>();
                coarse.max_scale = coarse.max_scale.max(scale);
                coarse.max_l1 = coarse.max_l1.max(l1);
                coarse.rows.extend_from_slice(&codes);
                coarse.scales.push(scale);
            }
            index.coarse = Some(coarse);
        }
        index
    }

    pub fn rows(&self) -> usize {
        self.owners.len()
    }

    /// The best person for `query` and the runner-up's score, exactly as a full f32 scan gives.
    pub fn best(&self, query: &[f32]) -> Option<Top> {
        if self.dim == 0 || query.len() != self.dim || self.matrix.len() != self.owners.len() * self.dim {
            return None;
        }
        match &self.coarse {
            Some(coarse) if query.iter().all(|x| x.is_finite()) => {
                self.best_coarse(coarse, query).or_else(|| self.best_exact(query))
            }
            _ => self.best_exact(query),
        }
    }

    /// The same result by scoring every row in f32.
    pub fn best_full_scan(&self, query: &[f32]) -> Option<Top> {
        if self.dim == 0 || query.len() != self.dim || self.matrix.len() != self.owners.len() * self.dim {
            return None;
        }
        self.best_exact(query)
    }

    fn best_exact(&self, query: &[f32]) -> Option<Top> {
        top_two(
            self.matrix
                .chunks_exact(self.dim)
                .zip(&self.owners)
                .map(|(row, &owner)| (owner, dot(row, query))),
        )
    }

    fn best_coarse(&self, coarse: &Coarse, query: &[f32]) -> Option<Top> {
        let (q, q_scale) = quantize(query);
        let query_l1: f32 = query.iter().map(|x| x.abs()).sum();
        let bound = 0.5 * coarse.max_scale * query_l1 + 0.5 * q_scale * coarse.max_l1 + ROUNDING;
        let approx: Vec<f32> = coarse
            .rows
            .chunks_exact(self.dim)
            .zip(&coarse.scales)
            .map(|(row, &scale)| scale * q_scale * dot_i8(row, &q) as f32)
            .collect();
        let rough = top_two(self.owners.iter().copied().zip(approx.iter().copied()))?;
        // With one person only, the runner-up is undefined: scan exactly.
        let floor = rough.runner_up? - 2.0 * bound;
        let candidates = approx
            .iter()
            .enumerate()
            .filter(|(_, &a)| a >= floor)
            .filter_map(|(i, _)| {
                let row = self.matrix.get(i * self.dim..(i + 1) * self.dim)?;
                Some((*self.owners.get(i)?, dot(row, query)))
            });
        top_two(candidates)
    }
}

/// Highest-scoring owner and the best score of any other owner, over (owner, score) pairs.
fn top_two(scores: impl Iterator<Item = (u32, f32)>) -> Option<Top> {
    let mut best: Option<(f32, u32)> = None;
    let mut second: Option<f32> = None;
    for (owner, s) in scores {
        match best {
            Some((b, o)) if o == owner => best = Some((b.max(s), o)),
            Some((b, _)) if s > b => {
                second = Some(b);
                best = Some((s, owner));
            }
            Some(_) => second = Some(second.map_or(s, |x| x.max(s))),
            None => best = Some((s, owner)),
        }
    }
    best.map(|(score, owner)| Top {
        owner,
        score,
        runner_up: second,
    })
}

/// Dot product in 16 independent f32 lanes, so the compiler vectorises it (a single running sum
/// is a dependency chain it may not reorder). Equal to `embed::cosine` up to rounding.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0_f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Integer dot product of int8 codes in 16 i32 lanes (exact: at most 127^2 per term).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let mut acc = [0_i32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: i32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += i32::from(x) * i32::from(y);
        }
    }
    acc.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic unit vectors (SplitMix64 + Box-Muller).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn unit(&mut self, dim: usize) -> Vec<f32> {
            let v: Vec<f32> = (0..dim)
                .map(|_| ((-2.0 * self.next().ln()).sqrt() * (std::f64::consts::TAU * self.next()).cos()) as f32)
                .collect();
            crate::embed::normalize(&v)
        }
    }

    /// The coarse path against the plain scan on the same rows: same owner, bit-equal scores,
    /// including near-duplicates of the query (close calls inside the int8 error) and people
    /// with several vectors.
    #[test]
    fn coarse_pass_gives_exactly_the_full_scan_result() {
        let dim = 128;
        let mut rng = Rng(7);
        let mut vectors: Vec<(u32, Vec<f32>)> = (0..5000).map(|i| (i / 2, rng.unit(dim))).collect();
        let queries: Vec<Vec<f32>> = (0..60).map(|_| rng.unit(dim)).collect();
        // Near-duplicates of some queries, owned by different people, closer than the int8 error.
        for (k, q) in queries.iter().enumerate().take(20) {
            for j in 0..3u32 {
                let noise = rng.unit(dim);
                let eps = 0.002 * (j as f32 + 1.0);
                let v: Vec<f32> = q.iter().zip(&noise).map(|(a, b)| a + eps * b).collect();
                vectors.push((10_000 + 3 * k as u32 + j, crate::embed::normalize(&v)));
            }
        }
        let index = MatchIndex::build(dim, vectors.iter().map(|(o, v)| (*o, v.as_slice())));
        assert!(index.coarse.is_some());
        for q in &queries {
            let fast = index.best(q).expect("match");
            let full = index.best_exact(q).expect("match");
            assert_eq!(fast, full);
        }
    }

    #[test]
    fn small_galleries_keep_no_int8_copy_and_one_person_still_matches() {
        let mut rng = Rng(3);
        let rows: Vec<Vec<f32>> = (0..COARSE_MIN_ROWS).map(|_| rng.unit(16)).collect();
        let index = MatchIndex::build(16, rows.iter().map(|v| (0, v.as_slice())));
        assert!(index.coarse.is_some());
        let top = index.best(&rows[5]).expect("match");
        assert_eq!((top.owner, top.runner_up), (0, None));
        assert!((top.score - 1.0).abs() < 1e-5);
        let small = MatchIndex::build(16, rows.iter().take(10).map(|v| (1, v.as_slice())));
        assert!(small.coarse.is_none());
        assert_eq!(small.best(&rows[0]).map(|t| t.owner), Some(1));
        assert_eq!(small.best(&[0.0; 3]), None);
    }

    #[test]
    fn quantize_bounds_the_error_by_half_a_step() {
        let mut rng = Rng(11);
        let v = rng.unit(128);
        let (codes, scale) = quantize(&v);
        for (x, c) in v.iter().zip(&codes) {
            assert!((x - scale * f32::from(*c)).abs() <= scale / 2.0 + 1e-7);
        }
        assert_eq!(quantize(&[0.0, 0.0]), (vec![0, 0], 0.0));
    }

    #[test]
    fn lane_dots_equal_plain_dots() {
        for dim in [1, 3, 16, 17, 128, 131] {
            let a: Vec<f32> = (0..dim).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
            let b: Vec<f32> = (0..dim).map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4 * plain.abs().max(1.0), "dim {dim}");
            let ai: Vec<i8> = (0..dim).map(|i| (i * 37 % 255 - 127) as i8).collect();
            let bi: Vec<i8> = (0..dim).map(|i| (i * 91 % 255 - 127) as i8).collect();
            let plain_i: i32 = ai.iter().zip(&bi).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum();
            assert_eq!(dot_i8(&ai, &bi), plain_i, "dim {dim}");
        }
    }
}
