//! The ingest path against a real store and WAL on disk: what a source is told equals what the
//! lake, the quarantine and the catalog hold after the WAL is folded.

use std::sync::{Arc, Mutex};
use store::{Distinct, Store, StoreConfig, Wal, WalConfig};
use storepulse_ingest::rows::{Layout, split};
use storepulse_ingest::{Hooks, IngestError, Ingestor, Origin};

fn open(dir: &std::path::Path) -> (Arc<Ingestor>, Arc<Mutex<Store>>) {
    let store = Arc::new(Mutex::new(Store::open(StoreConfig::new(dir)).unwrap()));
    let wal = Wal::open(&dir.join("wal"), WalConfig::default()).unwrap();
    let ing = Ingestor::new(
        store.clone(),
        wal,
        model::Rules::default(),
        Hooks::default(),
    );
    (Arc::new(ing), store)
}

fn any() -> Origin {
    Origin {
        source: "test".into(),
        shop: None,
    }
}

const TS: &str = "2017-11-26T01:00:00Z";

fn ev(id: &str, shop: &str, action: &str) -> String {
    format!(
        r#"{{"type":"behavior","event_id":"{id}","shop":"{shop}","ts":"{TS}","user_id":1,"item_id":2,"action":"{action}"}}"#
    )
}

#[tokio::test]
async fn replies_match_what_the_lake_and_quarantine_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (ing, store) = open(dir.path());
    let body = [
        ev("a", "s1", "pv"),
        ev("b", "s1", "buy"),
        ev("c", "s2", "like"),
        ev("a", "s1", "pv"),
    ]
    .join("\n");
    let rows = split(Layout::Ndjson, body.as_bytes()).unwrap();
    let r = ing.events(&any(), &rows).await.unwrap();
    assert_eq!((r.accepted, r.duplicates, r.rejected), (2, 1, 1));
    assert_eq!(r.duplicate_indices, vec![3]);
    assert_eq!(r.errors[0].index, 2);
    assert_eq!(r.errors[0].reason, "unknown_action");
    assert_eq!(r.errors[0].field.as_deref(), Some("action"));
    // The same batch again: every event a duplicate, the bad row answered but kept once.
    let again = ing.events(&any(), &rows).await.unwrap();
    assert_eq!(
        (again.accepted, again.duplicates, again.rejected),
        (0, 3, 1)
    );

    let mut st = store.lock().unwrap();
    st.fold_wal(&dir.path().join("wal")).unwrap();
    let stats = store::stats(&st, Distinct::Skip).unwrap();
    assert_eq!(stats.tables["behavior"].rows, 2);
    let q = st.quarantine_rows().unwrap();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!((q[0].shop.as_str(), q[0].source.as_str()), ("s2", "test"));
}

#[tokio::test]
async fn a_bound_origin_refuses_a_batch_naming_another_shop_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ing, store) = open(dir.path());
    let bound = Origin {
        source: "test".into(),
        shop: Some("s1".into()),
    };
    let body = format!("[{},{}]", ev("a", "s1", "pv"), ev("b", "s9", "pv"));
    let rows = split(Layout::Json, body.as_bytes()).unwrap();
    let e = ing.events(&bound, &rows).await.unwrap_err();
    assert_eq!(
        e,
        IngestError::ForeignShop {
            own: "s1".into(),
            indices: vec![1]
        }
    );
    // Nothing was reserved: the good event is accepted when sent alone.
    let one = ev("a", "s1", "pv");
    let r = ing
        .events(&bound, &split(Layout::Ndjson, one.as_bytes()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.accepted, 1);
    let mut st = store.lock().unwrap();
    st.fold_wal(&dir.path().join("wal")).unwrap();
    assert_eq!(
        store::stats(&st, Distinct::Skip).unwrap().tables["behavior"].rows,
        1
    );
}

#[tokio::test]
async fn dimension_rows_use_the_reasons_of_events_and_reach_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let (ing, store) = open(dir.path());
    let body = br#"[{"item_id":"SKU-1","price":"9.90","brand":"acme"},{"item_id":5,"price":"cheap"},{"item_id":6,"shop":"s2"},{"title":"no id"}]"#;
    let r = ing
        .upsert_items(&any(), "s1", &split(Layout::Json, body).unwrap())
        .unwrap();
    assert_eq!((r.upserted, r.rejected), (2, 2));
    let why: Vec<(usize, &str, Option<&str>)> = r
        .errors
        .iter()
        .map(|e| (e.index, e.reason.as_str(), e.field.as_deref()))
        .collect();
    assert_eq!(
        why,
        vec![
            (1, "bad_number", Some("price")),
            (3, "missing_field", Some("item_id"))
        ]
    );
    let st = store.lock().unwrap();
    let sku = model::Id::parse("SKU-1").unwrap().as_i64();
    let it = &st.catalog().items[&("s1".to_string(), sku)];
    assert_eq!(it.price, Some(9.9));
    assert_eq!(it.attributes.as_deref(), Some(r#"{"brand":"acme"}"#));
    assert!(st.catalog().items.contains_key(&("s2".to_string(), 6)));
    drop(st);
    let bound = Origin {
        source: "test".into(),
        shop: Some("s1".into()),
    };
    let users = br#"[{"user_id":1},{"user_id":2,"shop":"s2"}]"#;
    let e = ing
        .upsert_users(&bound, "s1", &split(Layout::Json, users).unwrap())
        .unwrap_err();
    assert!(matches!(e, IngestError::ForeignShop { ref indices, .. } if indices == &[1]));
    assert!(store.lock().unwrap().catalog().users.is_empty());
}
