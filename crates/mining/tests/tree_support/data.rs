//! Real data sets for the `tree_*` tests, derived from `shared/datasets` (Taobao users,
//! Online Retail customers), scikit-learn's bundled iris and the classic weather table, and
//! seeded removal of values. Builds inputs only; expected results come from Weka runs.

use super::{require, require_dataset};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use storepulse_mining::{Column, Dataset};

/// splitmix64: a seeded stream for removing values, independent of `rand` versions.
pub struct Mix(pub u64);
impl Mix {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A copy of `d` with about `rate` of the values in `cols` made missing.
pub fn with_missing(d: &Dataset, cols: &[usize], rate: f64, seed: u64) -> Dataset {
    let mut rng = Mix(seed);
    let columns = d
        .columns()
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let hit = cols.contains(&j);
            let mut c = c.clone();
            match &mut c {
                Column::Numeric { values, .. } => values.iter_mut().for_each(|v| {
                    if hit && rng.next_f64() < rate {
                        *v = None;
                    }
                }),
                Column::Nominal { values, .. } => values.iter_mut().for_each(|v| {
                    if hit && rng.next_f64() < rate {
                        *v = None;
                    }
                }),
            }
            c
        })
        .collect();
    Dataset::new(columns).unwrap()
}

pub fn nominal(name: &str, labels: &[&str], levels: &[&str]) -> Column {
    let l: Vec<Option<&str>> = labels.iter().map(|s| Some(*s)).collect();
    Column::nominal(
        name,
        &l,
        Some(levels.iter().map(|s| s.to_string()).collect()),
    )
    .unwrap()
}

pub fn numeric(name: &str, values: Vec<f64>) -> Column {
    Column::Numeric {
        name: name.into(),
        values: values.into_iter().map(Some).collect(),
    }
}

/// The classic 14-day weather table: outlook, temperature, humidity, windy, play (all nominal
/// when `nominal`, else temperature and humidity as the numbers).
pub fn weather(nominal_only: bool) -> Dataset {
    type Day = (
        &'static str,
        &'static str,
        i32,
        &'static str,
        i32,
        &'static str,
        &'static str,
    );
    let rows = [
        ("sunny", "hot", 85, "high", 85, "FALSE", "no"),
        ("sunny", "hot", 80, "high", 90, "TRUE", "no"),
        ("overcast", "hot", 83, "high", 86, "FALSE", "yes"),
        ("rainy", "mild", 70, "high", 96, "FALSE", "yes"),
        ("rainy", "cool", 68, "normal", 80, "FALSE", "yes"),
        ("rainy", "cool", 65, "normal", 70, "TRUE", "no"),
        ("overcast", "cool", 64, "normal", 65, "TRUE", "yes"),
        ("sunny", "mild", 72, "high", 95, "FALSE", "no"),
        ("sunny", "cool", 69, "normal", 70, "FALSE", "yes"),
        ("rainy", "mild", 75, "normal", 80, "FALSE", "yes"),
        ("sunny", "mild", 75, "normal", 70, "TRUE", "yes"),
        ("overcast", "mild", 72, "high", 90, "TRUE", "yes"),
        ("overcast", "hot", 81, "normal", 75, "FALSE", "yes"),
        ("rainy", "mild", 71, "high", 91, "TRUE", "no"),
    ];
    let col = |f: fn(&Day) -> &'static str| rows.iter().map(f).collect::<Vec<_>>();
    let mut cols = vec![nominal(
        "outlook",
        &col(|r| r.0),
        &["sunny", "overcast", "rainy"],
    )];
    if nominal_only {
        cols.push(nominal(
            "temperature",
            &col(|r| r.1),
            &["hot", "mild", "cool"],
        ));
        cols.push(nominal("humidity", &col(|r| r.3), &["high", "normal"]));
    } else {
        cols.push(numeric(
            "temperature",
            rows.iter().map(|r| r.2 as f64).collect(),
        ));
        cols.push(numeric(
            "humidity",
            rows.iter().map(|r| r.4 as f64).collect(),
        ));
    }
    cols.push(nominal("windy", &col(|r| r.5), &["TRUE", "FALSE"]));
    cols.push(nominal("play", &col(|r| r.6), &["yes", "no"]));
    Dataset::new(cols).unwrap()
}

/// Taobao users (UserBehavior.csv): per user pv/cart/fav counts and distinct categories,
/// bucketed into nominal attributes (`nominal_only`) or as numbers, and whether the user
/// bought (`buys`, the last column). `limit` caps the users (first seen first).
pub fn taobao_users(nominal_only: bool, limit: usize) -> Result<Dataset, ()> {
    let p = require_dataset("taobao_userbehavior/UserBehavior.csv")?;
    let text = std::fs::read_to_string(p).unwrap();
    let mut order: Vec<u64> = Vec::new();
    let mut stats: HashMap<u64, ([u32; 4], Vec<u64>)> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 5 {
            continue;
        }
        let (Ok(user), Ok(cat)) = (f[0].parse::<u64>(), f[2].parse::<u64>()) else {
            continue;
        };
        let k = match f[3] {
            "pv" => 0,
            "cart" => 1,
            "fav" => 2,
            "buy" => 3,
            _ => continue,
        };
        let e = stats.entry(user).or_insert_with(|| {
            order.push(user);
            ([0; 4], Vec::new())
        });
        e.0[k] += 1;
        if k != 3 && !e.1.contains(&cat) {
            e.1.push(cat);
        }
    }
    order.truncate(limit);
    let bucket = |x: u32, cuts: &[u32], names: &'static [&'static str]| {
        names[cuts.iter().take_while(|&&c| x >= c).count()]
    };
    let (mut pv, mut cart, mut fav, mut cats, mut buys) = (vec![], vec![], vec![], vec![], vec![]);
    for u in &order {
        let (c, cs) = &stats[u];
        pv.push(c[0]);
        cart.push(c[1]);
        fav.push(c[2]);
        cats.push(cs.len() as u32);
        buys.push(if c[3] > 0 { "yes" } else { "no" });
    }
    let mut cols = Vec::new();
    if nominal_only {
        const PV: &[&str] = &["0", "1", "2-3", "4-7", "8+"];
        const FEW: &[&str] = &["0", "1", "2+"];
        const CATS: &[&str] = &["0", "1", "2", "3-5", "6+"];
        let b = |v: &[u32], cuts: &[u32], names: &'static [&'static str]| {
            v.iter()
                .map(|&x| bucket(x, cuts, names))
                .collect::<Vec<_>>()
        };
        cols.push(nominal("pv", &b(&pv, &[1, 2, 4, 8], PV), PV));
        cols.push(nominal("cart", &b(&cart, &[1, 2], FEW), FEW));
        cols.push(nominal("fav", &b(&fav, &[1, 2], FEW), FEW));
        cols.push(nominal("categories", &b(&cats, &[1, 2, 3, 6], CATS), CATS));
    } else {
        let f = |v: &[u32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        cols.push(numeric("pv", f(&pv)));
        cols.push(numeric("cart", f(&cart)));
        cols.push(numeric("fav", f(&fav)));
        cols.push(numeric("categories", f(&cats)));
    }
    cols.push(nominal("buys", &buys, &["no", "yes"]));
    Ok(Dataset::new(cols).unwrap())
}

fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn day_number(date: &str) -> i64 {
    // Days from civil date (proleptic Gregorian), for recency.
    let p: Vec<i64> = date
        .get(..10)
        .unwrap_or("")
        .split('-')
        .filter_map(|x| x.parse().ok())
        .collect();
    let (y, m, d) = (p[0] - i64::from(p[1] <= 2), p[1], p[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
}

/// Online Retail customers: recency (days), frequency (invoices), monetary, distinct
/// products, mean basket value (numbers), country (nominal) and whether the customer ever
/// cancelled (`returns`, the last column).
pub fn retail_customers() -> Result<Dataset, ()> {
    let p = require_dataset("online_retail/online_retail.csv.gz")?;
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(p)
        .output()
        .expect("gzip runs");
    let text = String::from_utf8_lossy(&out.stdout);
    struct C {
        last: i64,
        invoices: HashSet<String>,
        money: f64,
        products: HashSet<String>,
        country: String,
        cancelled: bool,
    }
    let mut order: Vec<String> = Vec::new();
    let mut cs: HashMap<String, C> = HashMap::new();
    let mut max_day = i64::MIN;
    for line in text.lines().skip(1) {
        let f = csv_fields(line);
        if f.len() < 8 || f[6].is_empty() {
            continue;
        }
        let day = day_number(&f[4]);
        max_day = max_day.max(day);
        let c = cs.entry(f[6].clone()).or_insert_with(|| {
            order.push(f[6].clone());
            C {
                last: i64::MIN,
                invoices: HashSet::new(),
                money: 0.0,
                products: HashSet::new(),
                country: f[7].clone(),
                cancelled: false,
            }
        });
        if f[0].starts_with('C') {
            c.cancelled = true;
            continue;
        }
        let (q, price): (f64, f64) = (f[3].parse().unwrap_or(0.0), f[5].parse().unwrap_or(0.0));
        c.last = c.last.max(day);
        c.invoices.insert(f[0].clone());
        c.products.insert(f[1].clone());
        c.money += q * price;
    }
    let kept: Vec<&C> = order
        .iter()
        .map(|k| &cs[k])
        .filter(|c| !c.invoices.is_empty())
        .collect();
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let countries: Vec<&str> = kept.iter().map(|c| c.country.as_str()).collect();
    let country = Column::nominal(
        "country",
        &countries.iter().map(|c| Some(*c)).collect::<Vec<_>>(),
        None,
    )
    .unwrap();
    let cols = vec![
        numeric(
            "recency",
            kept.iter().map(|c| (max_day - c.last) as f64).collect(),
        ),
        numeric(
            "frequency",
            kept.iter().map(|c| c.invoices.len() as f64).collect(),
        ),
        numeric("monetary", kept.iter().map(|c| r2(c.money)).collect()),
        numeric(
            "products",
            kept.iter().map(|c| c.products.len() as f64).collect(),
        ),
        numeric(
            "basket",
            kept.iter()
                .map(|c| r2(c.money / c.invoices.len() as f64))
                .collect(),
        ),
        country,
        nominal(
            "returns",
            &kept
                .iter()
                .map(|c| if c.cancelled { "yes" } else { "no" })
                .collect::<Vec<_>>(),
            &["no", "yes"],
        ),
    ];
    Ok(Dataset::new(cols).unwrap())
}

/// scikit-learn's bundled iris (150 flowers, 4 measurements, 3 species), via python3.
pub fn iris() -> Result<Dataset, ()> {
    let out = Command::new("python3")
        .args(["-c", "from sklearn.datasets import load_iris\nd = load_iris()\nfor x, y in zip(d.data, d.target):\n    print(','.join(repr(float(v)) for v in x) + ',' + d.target_names[y])"])
        .output();
    let ok = out.as_ref().is_ok_and(|o| o.status.success());
    require(
        "python3 with scikit-learn (for iris)",
        ok,
        "pip install scikit-learn",
    )?;
    let text = String::from_utf8(out.unwrap().stdout).unwrap();
    let mut cols: Vec<Vec<f64>> = vec![vec![]; 4];
    let mut species = vec![];
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        for j in 0..4 {
            cols[j].push(f[j].parse().unwrap());
        }
        species.push(f[4].to_string());
    }
    let names = ["sepallength", "sepalwidth", "petallength", "petalwidth"];
    let mut c: Vec<Column> = names.iter().zip(cols).map(|(n, v)| numeric(n, v)).collect();
    let s: Vec<&str> = species.iter().map(String::as_str).collect();
    c.push(nominal("class", &s, &["setosa", "versicolor", "virginica"]));
    Ok(Dataset::new(c).unwrap())
}
