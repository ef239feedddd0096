//! Dimension endpoints: item and user upserts (batched, per-row errors; a row's `shop` is
//! honoured as an event's is), lookups, and the privacy deletion of a user (events and
//! profile, with an audit entry).

use crate::audit::AuditEntry;
use crate::auth::{Principal, Scope};
use crate::error::{ApiError, body_rejection, from_ingest};
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use ingest::{Origin, UpsertReply};
use model::{DEFAULT_SHOP, Id};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// `?shop=`: the shop to act on (default: the key's shop, or `default`); upsert rows that name
/// a `shop` go there instead.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopParam {
    /// Shop.
    pub shop: Option<String>,
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
    upsert(&app, &headers, &q, body, true)
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
    upsert(&app, &headers, &q, body, false)
}

/// A batch upsert through the ingest path: each row read on its own (errors answered per row),
/// the good ones applied to the catalog and made durable together.
fn upsert(
    app: &AppState,
    headers: &HeaderMap,
    q: &ShopParam,
    body: Result<Bytes, BytesRejection>,
    items: bool,
) -> Result<Json<UpsertReply>, ApiError> {
    let (who, default) = principal_and_shop(app, headers, Scope::Ingest, q)?;
    let raw = body.map_err(body_rejection)?;
    // These endpoints always took a JSON array whatever the content type said; NDJSON (one
    // row per line) is read when declared and the body is not an array.
    let text = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&raw);
    let is_array = text.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[');
    let layout = match crate::body::layout(headers) {
        Ok(crate::body::Layout::Ndjson) if !is_array => crate::body::Layout::Ndjson,
        _ => crate::body::Layout::Json,
    };
    let retry = app.cfg.retry_after_secs;
    let rows = ingest::rows::split(layout, &raw).map_err(|e| from_ingest(e, retry))?;
    let origin = Origin {
        source: "http".into(),
        shop: who.shop,
    };
    let reply = if items {
        app.ingest.upsert_items(&origin, &default, &rows)
    } else {
        app.ingest.upsert_users(&origin, &default, &rows)
    };
    reply.map(Json).map_err(|e| from_ingest(e, retry))
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
    responses((status = 200, description = "What was erased", body = ErasedReply)), security(("api_key" = ["admin"])))]
/// Erases a user's events and profile (privacy deletion), with an audit entry.
pub async fn delete_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ShopParam>,
) -> Result<Json<ErasedReply>, ApiError> {
    let (actor, shop) = shop_of(&app, &headers, Scope::Admin, &q)?;
    let key = Id::parse(&id).ok_or_else(|| ApiError::bad_request("empty id"))?;
    let app2 = app.clone();
    let shop2 = shop.clone();
    let report = tokio::task::spawn_blocking(move || {
        // Fold first so that every event acknowledged before this call is in the lake.
        store::fold::fold_shared(&app2.store, &app2.wal_dir, Some(&app2.wal().state()))?;
        app2.store().erase_user(&shop2, key.as_i64())
    })
    .await
    .map_err(ApiError::internal)??;
    let reply = ErasedReply {
        user_id: id,
        events_erased: report.rows,
        results_rows_erased: report.results_rows,
        files_rewritten: report.files as u64,
        profile_erased: report.profile,
    };
    let details = serde_json::to_value(&reply).map_err(ApiError::internal)?;
    app.audit
        .record(&AuditEntry {
            at_ms: model::time::now_ms(),
            actor,
            action: "erase_user".into(),
            shop: Some(shop),
            details: details.clone(),
        })
        .map_err(ApiError::internal)?;
    Ok(Json(reply))
}

/// What a privacy erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedReply {
    /// The user, as given.
    pub user_id: String,
    /// Events removed from the lake.
    pub events_erased: u64,
    /// Rows of the results table keyed by the user removed.
    pub results_rows_erased: u64,
    /// Lake files rewritten without the user's rows.
    pub files_rewritten: u64,
    /// Whether a catalog profile was removed.
    pub profile_erased: bool,
}
