//! J48 (C4.5) and ID3 timings on 100K generated rows: three numeric and three nominal
//! attributes, 5% missing in two of them, a three-class target from thresholds plus 15%
//! label noise. Set STOREPULSE_BENCH_ARFF=<path> to also write the data as ARFF, to time
//! Weka on the same rows (`java -cp /usr/share/java/weka.jar weka.classifiers.trees.J48 -t
//! <path> -no-cv`); our default tree goes to `<path>.j48.txt`.
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Write;
use storepulse_mining::tree::{C45Params, c45, id3};
use storepulse_mining::{Column, Dataset};

struct Mix(u64);
impl Mix {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const LEVELS: [usize; 3] = [5, 12, 2];

fn generate(n: usize) -> Dataset {
    let mut r = Mix(42);
    let (mut x, mut nom, mut y) = (vec![vec![]; 3], vec![vec![]; 3], vec![]);
    for _ in 0..n {
        let a = (r.next() * 10_000.0).round() / 100.0;
        let b = ((r.next() + r.next() + r.next()) * 1000.0).round() / 100.0;
        let c = (r.next() * 50.0).floor();
        let k: Vec<u32> = LEVELS
            .iter()
            .map(|&l| (r.next() * l as f64) as u32)
            .collect();
        let mut class = if a < 30.0 && k[0] < 2 {
            0
        } else if b > 18.0 || (c > 40.0 && k[2] == 1) {
            1
        } else if k[1].is_multiple_of(3) {
            0
        } else {
            2
        };
        if r.next() < 0.15 {
            class = (r.next() * 3.0) as u32;
        }
        let miss_b = r.next() < 0.05;
        let miss_k0 = r.next() < 0.05;
        x[0].push(Some(a));
        x[1].push((!miss_b).then_some(b));
        x[2].push(Some(c));
        for (j, v) in k.iter().enumerate() {
            nom[j].push((!(j == 0 && miss_k0)).then_some(*v));
        }
        y.push(Some(class));
    }
    let mut cols: Vec<Column> = x
        .into_iter()
        .enumerate()
        .map(|(j, values)| Column::Numeric {
            name: format!("x{j}"),
            values,
        })
        .collect();
    for (j, values) in nom.into_iter().enumerate() {
        cols.push(Column::Nominal {
            name: format!("n{j}"),
            levels: (0..LEVELS[j]).map(|l| format!("v{l}")).collect(),
            values,
        });
    }
    cols.push(Column::Nominal {
        name: "class".into(),
        levels: vec!["a".into(), "b".into(), "c".into()],
        values: y,
    });
    Dataset::new(cols).expect("generated columns agree")
}

fn write_arff(d: &Dataset, path: &str) {
    let mut s = String::from("@relation bench\n");
    for c in d.columns() {
        match c {
            Column::Numeric { name, .. } => s += &format!("@attribute {name} numeric\n"),
            Column::Nominal { name, levels, .. } => {
                s += &format!("@attribute {name} {{{}}}\n", levels.join(","))
            }
        }
    }
    s += "@data\n";
    for r in 0..d.rows() {
        let cells: Vec<String> = d
            .columns()
            .iter()
            .map(|c| match c {
                Column::Numeric { values, .. } => values[r].map_or("?".into(), |v| v.to_string()),
                Column::Nominal { levels, values, .. } => {
                    values[r].map_or("?".into(), |v| levels[v as usize].clone())
                }
            })
            .collect();
        s += &cells.join(",");
        s.push('\n');
    }
    let mut f = std::fs::File::create(path).expect("writable ARFF path");
    f.write_all(s.as_bytes()).expect("ARFF written");
}

fn benches(c: &mut Criterion) {
    let d = generate(100_000);
    if let Ok(path) = std::env::var("STOREPULSE_BENCH_ARFF") {
        write_arff(&d, &path);
    }
    let target = d.columns().len() - 1;
    if let Ok(path) = std::env::var("STOREPULSE_BENCH_ARFF") {
        // Our tree next to the ARFF, to diff against Weka's by hand.
        let t = c45(&d, target, &C45Params::default(), None).expect("fits");
        std::fs::write(format!("{path}.j48.txt"), t.to_text()).expect("tree written");
    }
    let mut g = c.benchmark_group("tree");
    g.sample_size(10);
    g.bench_function("j48_default_100k", |b| {
        b.iter(|| black_box(c45(&d, target, &C45Params::default(), None).expect("fits")))
    });
    g.bench_function("j48_unpruned_100k", |b| {
        let p = C45Params {
            unpruned: true,
            ..C45Params::default()
        };
        b.iter(|| black_box(c45(&d, target, &p, None).expect("fits")))
    });
    // ID3 needs nominal, complete data: the nominal columns only, missing rows dropped.
    let cols: Vec<Column> = d.columns()[3..].to_vec();
    let keep: Vec<usize> = (0..d.rows())
        .filter(|&r| {
            cols.iter()
                .all(|c| matches!(c, Column::Nominal { values, .. } if values[r].is_some()))
        })
        .collect();
    let nominal = Dataset::new(
        cols.into_iter()
            .map(|c| match c {
                Column::Nominal {
                    name,
                    levels,
                    values,
                } => Column::Nominal {
                    name,
                    levels,
                    values: keep.iter().map(|&r| values[r]).collect(),
                },
                other => other,
            })
            .collect(),
    )
    .expect("nominal columns agree");
    g.bench_function("id3_nominal_95k", |b| {
        b.iter(|| black_box(id3(&nominal, 3).expect("fits")))
    });
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
