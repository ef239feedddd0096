//! The Lloyd E-step (and the sums of the M-step) over all rows, several rows at a time.
//!
//! Bit-for-bit the arithmetic of [`crate::cluster::distance::nearest_fixed`] and of a plain
//! row-by-row M-step: each row's score for centre `j` is `|c_j|² - 2 x·c_j` with the dot product
//! summed over the columns in order, the lowest index wins ties, and every cluster's sums are
//! added row after row in row order. Only the layout differs: the rows are read by column so
//! that one instruction scores several rows, and each row's addends `x·w, w` are multiplied once
//! per fit instead of once per iteration. Checked against sklearn and a plain Lloyd through
//! [`super::fit`] in `tests/kmeans_lloyd.rs`.

use crate::cluster::distance::with_dim;

/// `S` of [`Prepared::sweep_fixed`] for an E-step alone.
const NO_SUMS: usize = usize::MAX;

/// Rows scored together (lanes of the block kernel).
const LANES: usize = 8;

/// The centred data laid out for [`Prepared::sweep`].
pub(super) struct Prepared {
    n: usize,
    d: usize,
    /// Column-major rows: column `t` is `cols[t * n..(t + 1) * n]`.
    cols: Vec<f64>,
    /// Per row, [`Self::stride`] addends of the M-step: `x_t · w`, then `w`, then zeros.
    addends: Vec<f64>,
}

/// Addends per row for `d` columns: `d + 1` rounded up to 4 or 8 (so that the M-step adds
/// whole vectors; a zero added to a zero stays a zero), else `d + 1`.
pub(super) fn stride(d: usize) -> usize {
    match d + 1 {
        s @ 0..=4 => s.max(4),
        s @ 5..=8 => s.max(8),
        s => s,
    }
}

impl Prepared {
    pub(super) fn new(x: &[f64], d: usize, w: &[f64]) -> Prepared {
        let n = w.len();
        let mut cols = vec![0.0; n * d];
        let s = stride(d);
        let mut addends = vec![0.0; n * s];
        for (i, ((row, &wi), a)) in x
            .chunks_exact(d)
            .zip(w)
            .zip(addends.chunks_exact_mut(s))
            .enumerate()
        {
            for (t, &v) in row.iter().enumerate() {
                cols[t * n + i] = v;
                a[t] = v * wi;
            }
            a[d] = wi;
        }
        Prepared {
            n,
            d,
            cols,
            addends,
        }
    }

    /// Assigns every row to its nearest of the centres `c` (`norms` their squared norms) into
    /// `labels`; with `sums` (`k ×` [`stride`], zeroed), also adds each row's addends to its
    /// cluster's. True when some label changed.
    pub(super) fn sweep(
        &self,
        c: &[f64],
        norms: &[f64],
        labels: &mut [u32],
        sums: Option<&mut [f64]>,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.sweep_avx2(c, norms, labels, sums) };
        }
        self.sweep_any(c, norms, labels, sums)
    }

    /// [`Self::sweep`] compiled for AVX2 (4 lanes a register; no FMA, so the same rounding).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sweep_avx2(
        &self,
        c: &[f64],
        norms: &[f64],
        labels: &mut [u32],
        sums: Option<&mut [f64]>,
    ) -> bool {
        self.sweep_any(c, norms, labels, sums)
    }

    #[inline(always)]
    fn sweep_any(
        &self,
        c: &[f64],
        norms: &[f64],
        labels: &mut [u32],
        sums: Option<&mut [f64]>,
    ) -> bool {
        match sums {
            Some(s) => match stride(self.d) {
                4 => with_dim!(self.d, D => self.sweep_fixed::<D, 4>(c, norms, labels, s)),
                8 => with_dim!(self.d, D => self.sweep_fixed::<D, 8>(c, norms, labels, s)),
                _ => with_dim!(self.d, D => self.sweep_fixed::<D, 0>(c, norms, labels, s)),
            },
            None => {
                with_dim!(self.d, D => self.sweep_fixed::<D, NO_SUMS>(c, norms, labels, &mut []))
            }
        }
    }

    /// [`Self::sweep`] for `D` columns (`D = 0`: any) and `S` addends a row (`S = 0`: the
    /// [`stride`]; [`NO_SUMS`]: no M-step).
    #[inline(always)]
    fn sweep_fixed<const D: usize, const S: usize>(
        &self,
        c: &[f64],
        norms: &[f64],
        labels: &mut [u32],
        sums: &mut [f64],
    ) -> bool {
        let (n, d) = (self.n, if D == 0 { self.d } else { D });
        let mut changed = false;
        let mut i = 0;
        while i + LANES <= n {
            changed |= self.block::<D, LANES, S>(i, d, c, norms, labels, sums);
            i += LANES;
        }
        while i < n {
            changed |= self.block::<D, 1, S>(i, d, c, norms, labels, sums);
            i += 1;
        }
        changed
    }

    /// Rows `i..i + L`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn block<const D: usize, const L: usize, const S: usize>(
        &self,
        i: usize,
        d: usize,
        c: &[f64],
        norms: &[f64],
        labels: &mut [u32],
        sums: &mut [f64],
    ) -> bool {
        let n = self.n;
        let mut best_v = [f64::INFINITY; L];
        // 64-bit, like the scores, so the selects stay within one vector width.
        let mut best = [0u64; L];
        for (j, &nj) in norms.iter().enumerate() {
            let cj = &c[j * d..][..d];
            let mut dot = [0.0; L];
            // `0.0 + a` is `a` up to the sign of a zero, which `nj - 2·dot` never sees.
            let x0 = &self.cols[i..][..L];
            for l in 0..L {
                dot[l] = x0[l] * cj[0];
            }
            for (t, &ct) in cj.iter().enumerate().skip(1) {
                let xt = &self.cols[t * n + i..][..L];
                for l in 0..L {
                    dot[l] += xt[l] * ct;
                }
            }
            for l in 0..L {
                let v = nj - 2.0 * dot[l];
                let better = v < best_v[l];
                best[l] = if better { j as u64 } else { best[l] };
                best_v[l] = if better { v } else { best_v[l] };
            }
        }
        let mut changed = false;
        let out = &mut labels[i..][..L];
        for l in 0..L {
            let j = best[l] as u32;
            changed |= out[l] != j;
            out[l] = j;
        }
        if S != NO_SUMS {
            let s = if S == 0 { stride(d) } else { S };
            let a = &self.addends[i * s..][..L * s];
            for l in 0..L {
                let sj = &mut sums[best[l] as usize * s..][..s];
                let al = &a[l * s..][..s];
                for t in 0..s {
                    sj[t] += al[t];
                }
            }
        }
        changed
    }
}
