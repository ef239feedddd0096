use std::time::Instant;
use storepulse_mining::Baskets;
use storepulse_mining::rules::*;
#[test]
fn timing() {
    let text = std::fs::read_to_string("../../../shared/datasets/groceries/groceries.csv").unwrap();
    let b = Baskets::parse(&text, ',', true);
    let ml: Option<usize> = std::env::var("ML").ok().map(|s| s.parse().unwrap());
    let reps: usize = std::env::var("REPS").map(|s| s.parse().unwrap()).unwrap_or(50);
    for algo in [Algo::FpGrowth, Algo::Eclat, Algo::Apriori] {
        if std::env::var("ONLY").is_ok_and(|o| o != format!("{algo:?}")) { continue; }
        let p = ItemsetParams { min_support: 0.006, max_len: ml, algo };
        let mut best = f64::MAX;
        for _ in 0..reps { let t = Instant::now(); let _r = frequent_itemsets(&b, &p).unwrap(); best = best.min(t.elapsed().as_secs_f64()); }
        eprintln!("{algo:?} max_len {ml:?} best {:.3} ms", best*1e3);
    }
}
