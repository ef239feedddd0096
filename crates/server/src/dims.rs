//! Dimension endpoints: item and user upserts (batched, per-row errors; a row's `shop` is
//! honoured as an event's is), lookups, and the privacy deletion of a user (events and
//! profile, with an audit entry).

use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::auth::{Principal, Scope};
use crate::error::{ApiError, body_rejection};
use crate::extract::{Path, Query};
use crate::ingest::RowError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use model::{DEFAULT_SHOP, Id};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use store::{ItemRow, UserRow};
use utoipa::{IntoParams, ToSchema};

/// `?shop=`: the shop to act on (default: the key's shop, or `default`); upsert rows that name
/// a `shop` go there instead.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopParam {
    /// Shop.
    pub shop: Option<String>,
}

/// The answer to an upsert.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpsertReply {
    /// Rows stored.
    pub upserted: usize,
    /// Rows refused.
    pub rejected: usize,
    /// Each refused row.
    pub errors: Vec<RowError>,
}

/// An item as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemOut {
    /// Shop.
    pub shop: String,
    /// The id as given.
    pub item_id: String,
    /// Category.
    pub category_id: Option<i64>,
    /// Title.
    pub title: Option<String>,
    /// Price.
    pub price: Option<f64>,
    /// Free-form attributes.
    pub attributes: Option<Value>,
    /// Last update, UTC ms.
    pub updated_at: i64,
}

/// A user as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// Shop.
    pub shop: String,
    /// The id as given.
    pub user_id: String,
    /// Free-form attributes.
    pub attributes: Option<Value>,
    /// Last update, UTC ms.
    pub updated_at: i64,
}

fn shop_of(
    app: &AppState,
    headers: &HeaderMap,
    scope: Scope,
    q: &ShopParam,
) -> Result<(String, String), ApiError> {
    let (who, shop) = principal_and_shop(app, headers, scope, q)?;
    Ok((who.name, shop))
}

fn principal_and_shop(
    app: &AppState,
    headers: &HeaderMap,
    scope: Scope,
    q: &ShopParam,
) -> Result<(Principal, String), ApiError> {
    let who = app.auth(headers, scope)?;
    let shop = who
        .shop_for(q.shop.as_deref())?
        .unwrap_or_else(|| DEFAULT_SHOP.to_string());
    model::check_shop(&shop).map_err(|r| ApiError::bad_request(r.rule))?;
    Ok((who, shop))
}

/// The shop of a dimension row, with the rules of events: a `shop` it names (which a
/// shop-bound key must own: `Ok(None)` marks a row for another shop), else the request's.
fn row_shop(
    who: &Principal,
    default: &str,
    index: usize,
    v: &Value,
) -> Result<Option<String>, RowError> {
    let shop = match v.get("shop") {
        None | Some(Value::Null) => return Ok(Some(default.to_string())),
        Some(Value::String(s)) => s,
        Some(_) => return Err(row_err(index, "shop", "`shop` must be a string".into())),
    };
    model::check_shop(shop).map_err(|r| row_err(index, "shop", format!("`shop` {}", r.rule)))?;
    Ok(who.may_use_shop(shop).then(|| shop.clone()))
}

fn rows_of(body: Result<Bytes, BytesRejection>) -> Result<Vec<Value>, ApiError> {
    let b = body.map_err(body_rejection)?;
    let b = b.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&b);
    match serde_json::from_slice::<Value>(b) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(o @ Value::Object(_)) => Ok(vec![o]),
        Ok(_) => Err(ApiError::bad_request(
            "send a JSON object or an array of objects",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

fn id_field(o: &Map<String, Value>, name: &str) -> Result<Id, String> {
    let text = match o.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(format!("`{name}` must be a string or a number")),
        None => return Err(format!("`{name}` is required")),
    };
    Id::parse(&text).ok_or_else(|| format!("`{name}` must not be empty"))
}

fn row_err(index: usize, field: &str, message: String) -> RowError {
    RowError {
        index,
        reason: "bad_value".into(),
        field: Some(field.into()),
        value: None,
        message,
    }
}

fn key_of(id: &Id) -> Option<String> {
    matches!(id, Id::Key(_)).then(|| id.to_string())
}

fn item_row(index: usize, v: &Value, now: i64) -> Result<(i64, ItemRow), RowError> {
    let o = v
        .as_object()
        .ok_or_else(|| row_err(index, "", "each row must be an object".into()))?;
    let id = id_field(o, "item_id").map_err(|m| row_err(index, "item_id", m))?;
    let category_id = match o.get("category_id") {
        None | Some(Value::Null) => None,
        Some(_) => Some(
            id_field(o, "category_id")
                .map_err(|m| row_err(index, "category_id", m))?
                .as_i64(),
        ),
    };
    let title = match o.get("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(row_err(index, "title", "`title` must be a string".into())),
    };
    let price = match o.get("price") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(p) if p.is_finite() && p >= 0.0 => Some(p),
            _ => {
                return Err(row_err(
                    index,
                    "price",
                    "`price` must be a finite number ≥ 0".into(),
                ));
            }
        },
        Some(_) => return Err(row_err(index, "price", "`price` must be a number".into())),
    };
    let attributes = attributes(index, o)?;
    Ok((
        id.as_i64(),
        ItemRow {
            key: key_of(&id),
            category_id,
            title,
            price,
            attributes,
            updated_at: now,
        },
    ))
}

fn attributes(index: usize, o: &Map<String, Value>) -> Result<Option<String>, RowError> {
    match o.get("attributes") {
        None | Some(Value::Null) => Ok(None),
        Some(a @ Value::Object(_)) => Ok(Some(a.to_string())),
        Some(_) => Err(row_err(
            index,
            "attributes",
            "`attributes` must be an object".into(),
        )),
    }
}

#[utoipa::path(put, path = "/v1/items", tag = "dimensions", params(ShopParam),
    request_body(content = Vec<Object>, description = "Item rows: item_id, category_id, title, price, attributes, shop (default: ?shop=)"),
    responses((status = 200, body = UpsertReply)), security(("api_key" = ["ingest"])))]
/// Upserts items.
pub async fn put_items(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ShopParam>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UpsertReply>, ApiError> {
    upsert(&app, &headers, &q, body, item_row, |c, shop, rows| {
        c.put_items(shop, rows)
    })
}

#[utoipa::path(put, path = "/v1/users", tag = "dimensions", params(ShopParam),
    request_body(content = Vec<Object>, description = "User rows: user_id, attributes, shop (default: ?shop=)"),
    responses((status = 200, body = UpsertReply)), security(("api_key" = ["ingest"])))]
/// Upserts users.
pub async fn put_users(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ShopParam>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UpsertReply>, ApiError> {
    upsert(&app, &headers, &q, body, user_row, |c, shop, rows| {
        c.put_users(shop, rows)
    })
}

/// Parses row `index` of a batch at time `now` into (stored id, row).
type RowParser<R> = fn(usize, &Value, i64) -> Result<(i64, R), RowError>;

/// A batch upsert: each row parsed on its own (errors answered per row), the good ones
/// applied to the catalog and made durable together.
fn upsert<R>(
    app: &AppState,
    headers: &HeaderMap,
    q: &ShopParam,
    body: Result<Bytes, BytesRejection>,
    parse: RowParser<R>,
    apply: impl Fn(&mut store::Catalog, &str, Vec<(i64, R)>),
) -> Result<Json<UpsertReply>, ApiError> {
    let (who, default) = principal_and_shop(app, headers, Scope::Ingest, q)?;
    let rows = rows_of(body)?;
    let now = collect::now_ms();
    let mut ok: BTreeMap<String, Vec<(i64, R)>> = BTreeMap::new();
    let (mut errors, mut forbidden) = (Vec::new(), Vec::new());
    for (i, v) in rows.iter().enumerate() {
        let shop = match row_shop(&who, &default, i, v) {
            Ok(Some(shop)) => shop,
            Ok(None) => {
                forbidden.push(i);
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match parse(i, v, now) {
            Ok(r) => ok.entry(shop).or_default().push(r),
            Err(e) => errors.push(e),
        }
    }
    if !forbidden.is_empty() {
        return Err(ApiError::forbidden(format!(
            "this key is bound to shop `{default}`; {} row(s) name another shop and nothing was stored",
            forbidden.len()
        ))
        .with_details(json!({ "indices": forbidden })));
    }
    let upserted = ok.values().map(Vec::len).sum();
    if upserted > 0 {
        let mut st = app.store();
        for (shop, rows) in ok {
            apply(st.catalog_mut(), &shop, rows);
        }
        st.catalog_mut().flush().map_err(ApiError::internal)?;
    }
    Ok(Json(UpsertReply {
        upserted,
        rejected: errors.len(),
        errors,
    }))
}

fn user_row(index: usize, v: &Value, now: i64) -> Result<(i64, UserRow), RowError> {
    let o = v
        .as_object()
        .ok_or_else(|| row_err(index, "", "each row must be an object".into()))?;
    let id = id_field(o, "user_id").map_err(|m| row_err(index, "user_id", m))?;
    Ok((
        id.as_i64(),
        UserRow {
            key: key_of(&id),
            attributes: attributes(index, o)?,
            updated_at: now,
        },
    ))
}

fn parse_attrs(a: &Option<String>) -> Option<Value> {
    a.as_deref().and_then(|s| serde_json::from_str(s).ok())
}

#[utoipa::path(get, path = "/v1/items/{id}", tag = "dimensions", params(("id" = String, Path), ShopParam),
    responses((status = 200, body = ItemOut), (status = 404)), security(("api_key" = ["read"])))]
/// One item.
pub async fn get_item(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ShopParam>,
) -> Result<Json<ItemOut>, ApiError> {
    let (_, shop) = shop_of(&app, &headers, Scope::Read, &q)?;
    let key = Id::parse(&id).ok_or_else(|| ApiError::bad_request("empty id"))?;
    let st = app.store();
    let r = st
        .catalog()
        .items
        .get(&(shop.clone(), key.as_i64()))
        .ok_or_else(|| ApiError::not_found(format!("no item `{id}` in shop `{shop}`")))?;
    Ok(Json(ItemOut {
        shop,
        item_id: key.to_string(),
        category_id: r.category_id,
        title: r.title.clone(),
        price: r.price,
        attributes: parse_attrs(&r.attributes),
        updated_at: r.updated_at,
    }))
}

#[utoipa::path(get, path = "/v1/users/{id}", tag = "dimensions", params(("id" = String, Path), ShopParam),
    responses((status = 200, body = UserOut), (status = 404)), security(("api_key" = ["read"])))]
/// One user.
pub async fn get_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ShopParam>,
) -> Result<Json<UserOut>, ApiError> {
    let (_, shop) = shop_of(&app, &headers, Scope::Read, &q)?;
    let key = Id::parse(&id).ok_or_else(|| ApiError::bad_request("empty id"))?;
    let st = app.store();
    let r = st
        .catalog()
        .users
        .get(&(shop.clone(), key.as_i64()))
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}` in shop `{shop}`")))?;
    Ok(Json(UserOut {
        shop,
        user_id: key.to_string(),
        attributes: parse_attrs(&r.attributes),
        updated_at: r.updated_at,
    }))
}

#[utoipa::path(delete, path = "/v1/users/{id}", tag = "dimensions", params(("id" = String, Path), ShopParam),
    responses((status = 200, description = "What was erased")), security(("api_key" = ["admin"])))]
/// Erases a user's events and profile (privacy deletion), with an audit entry.
pub async fn delete_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ShopParam>,
) -> Result<Json<Value>, ApiError> {
    let (actor, shop) = shop_of(&app, &headers, Scope::Admin, &q)?;
    let key = Id::parse(&id).ok_or_else(|| ApiError::bad_request("empty id"))?;
    let app2 = app.clone();
    let shop2 = shop.clone();
    let report = tokio::task::spawn_blocking(move || {
        // Fold first so that every event acknowledged before this call is in the lake.
        store::fold::fold_shared(&app2.store, &app2.wal_dir, Some(&app2.wal.state()))?;
        app2.store().erase_user(&shop2, key.as_i64())
    })
    .await
    .map_err(ApiError::internal)??;
    let details = json!({"user_id": id, "events_erased": report.rows, "results_rows_erased": report.results_rows, "files_rewritten": report.files, "profile_erased": report.profile});
    app.audit
        .record(&AuditEntry {
            at_ms: collect::now_ms(),
            actor,
            action: "erase_user".into(),
            shop: Some(shop),
            details: details.clone(),
        })
        .map_err(ApiError::internal)?;
    Ok(Json(details))
}
