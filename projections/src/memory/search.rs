//! [`MemoryIndex`]: searching the memory projection's rows by meaning.
//!
//! The vectors live in SQL (`memory_items` of the live generation); the
//! index mirrors them in a [`VectorIndex`] for fast nearest-neighbour search
//! and is never the source of truth:
//!
//! - [`MemoryIndex::refresh`] brings it in step with the live generation: it
//!   first loads the file [`MemoryIndex::persist`] saved (if it is for the
//!   same generation and model), else builds the index from the stored
//!   embeddings (nothing is embedded again); then it adds the rows written
//!   since (a row's *revision* is the position of the event that last wrote
//!   it, so rows re-embedded after an erasure come back too) and drops rows
//!   that are gone.
//! - [`MemoryIndex::search`] embeds the query, walks the graph with a key
//!   filter for the domain, time range and as-of position (from a small
//!   in-memory map of each key's domain, time and position), reads the hits'
//!   rows from SQL (a row erased meanwhile is simply not found) and, when
//!   the filter leaves fewer than `k`, falls back to an exact scan of the
//!   matching rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use steward_events::Position;

use super::projection::{ITEMS, MEMORY_PROJECTION};
use super::{Embedder, Embedding, IndexOptions, MemoryError, VectorIndex};
use crate::catalog;
use crate::db::ReadDb;
use crate::db::sql_int;
use crate::error::ProjectionError;
use crate::read_models::sql::{Bind, Conditions, placeholders};
use crate::tables::Tables;

/// The index file inside the directory given to [`MemoryIndex::new`].
const INDEX_FILE: &str = "memory.usearch";
/// What the index file holds, beside it.
const META_FILE: &str = "memory.json";

/// What to look for in the memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryQuery {
    /// What it is about, in words.
    pub text: String,
    /// At most this many hits.
    pub k: usize,
    /// Only memories of this domain (`inbox`, `calendar`, `travel`, …).
    pub domain: Option<String>,
    /// Only memories recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only memories recorded before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only memories of events at or before this position: what was known
    /// then (less anything erased since).
    pub as_of: Option<Position>,
}

/// One memory found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryHit {
    /// Cosine similarity to the query (1 = same meaning).
    pub score: f32,
    /// The remembered text.
    pub text: String,
    /// The event it comes from.
    pub event_id: String,
    /// That event's stream.
    pub stream_id: String,
    /// Its domain.
    pub domain: String,
    /// Its type.
    pub event_type: String,
    /// Its global position.
    pub position: Position,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// How a [`MemoryIndex::refresh`] went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Whether the index was read from its file.
    pub loaded_from_file: bool,
    /// Whether the index was built from every stored embedding.
    pub rebuilt: bool,
    /// Rows added (or replaced) from SQL, a rebuild's included.
    pub added: usize,
    /// Entries dropped because their rows are gone.
    pub removed: usize,
}

/// What can go wrong searching the memory.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The read-model database failed, or the memory is not built yet.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The embedder or the vector index failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The description of a persisted index could not be written.
    #[error("memory index description {}: {message}", path.display())]
    Meta {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A blocking task (embedding, index building) died.
    #[error("a memory task failed: {0}")]
    Task(String),
}

impl From<sqlx::Error> for SearchError {
    fn from(error: sqlx::Error) -> Self {
        SearchError::Projection(ProjectionError::Database(error))
    }
}

/// Where a memory stands, for filtering without SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemMeta {
    domain: String,
    recorded_at_ms: i64,
    position: Position,
}

/// The index and what it mirrors.
struct Loaded {
    generation: i64,
    tables: Tables,
    /// The highest revision of the rows it holds.
    revision: i64,
    index: VectorIndex,
    items: HashMap<u64, ItemMeta>,
}

/// What is saved beside the index file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SavedMeta {
    generation: i64,
    /// The highest revision (at least the highest key) the file holds.
    revision: i64,
    model_id: String,
    dims: usize,
}

/// The vector memory's search side, kept in step with the live generation
/// of the memory projection. Share it (`Arc<MemoryIndex>`): searches run
/// side by side; refreshes take turns.
pub struct MemoryIndex {
    db: ReadDb,
    embedder: Arc<Embedder>,
    dir: Option<PathBuf>,
    options: IndexOptions,
    state: RwLock<Option<Loaded>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for MemoryIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryIndex")
            .field("dir", &self.dir)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl MemoryIndex {
    /// An index over the memory in `db`, persisted in `dir` (if given), with
    /// queries embedded by `embedder` (the model the rows were made with).
    pub fn new(db: ReadDb, embedder: Arc<Embedder>, dir: Option<PathBuf>) -> Self {
        Self {
            db,
            embedder,
            dir,
            options: IndexOptions::default(),
            state: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// How many memories the index holds.
    pub fn len(&self) -> usize {
        self.read(|loaded| loaded.map_or(0, |l| l.index.len()))
    }

    /// Whether the index holds no memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings the index in step with the live generation's rows (see the
    /// module documentation).
    pub async fn refresh(&self) -> Result<Refresh, SearchError> {
        let _turn = self.refreshing.lock().await;
        let live = catalog::live(&self.db, MEMORY_PROJECTION)
            .await?
            .ok_or_else(|| ProjectionError::NotBuilt {
                projection: MEMORY_PROJECTION.to_owned(),
            })?;
        let mut report = Refresh::default();
        let current = self.read(|loaded| loaded.map(|l| l.generation));
        if current != Some(live.generation) {
            let (loaded, from_file) = match self.load_file(live.generation, live.tables()).await? {
                Some(loaded) => (loaded, true),
                None => (self.build(live.generation, live.tables()).await?, false),
            };
            report.loaded_from_file = from_file;
            report.rebuilt = !from_file;
            if !from_file {
                report.added = loaded.index.len();
            }
            *self.state.write().unwrap_or_else(PoisonError::into_inner) = Some(loaded);
        }
        let (tables, revision, held) = self.read(|loaded| {
            loaded.map_or((live.tables(), i64::MAX, 0), |l| {
                (l.tables.clone(), l.revision, l.items.len())
            })
        });

        // Rows written since: new ones, and ones embedded again.
        let fresh = self.rows_after(&tables, revision).await?;
        if !fresh.is_empty() {
            report.added += fresh.len();
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(loaded) = state.as_mut() {
                let entries: Vec<(u64, Embedding)> = fresh
                    .iter()
                    .map(|(key, _, _, embedding)| (*key, embedding.clone()))
                    .collect();
                loaded.index.insert_many(&entries)?;
                for (key, meta, row_revision, _) in fresh {
                    loaded.items.insert(key, meta);
                    loaded.revision = loaded.revision.max(row_revision);
                }
            }
        }

        // Rows gone (erased): the counts differ.
        let count: i64 = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {} WHERE model_id = $1",
            tables.name(ITEMS)
        )))
        .bind(self.embedder.model_id().to_owned())
        .fetch_one(self.db.pool())
        .await?
        .try_get("n")?;
        let held_now = self.read(|loaded| loaded.map_or(held, |l| l.items.len()));
        if usize::try_from(count).ok() != Some(held_now) {
            let present = self.metas(&tables).await?;
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(loaded) = state.as_mut() {
                let gone: Vec<u64> = loaded
                    .items
                    .keys()
                    .filter(|key| !present.contains_key(key))
                    .copied()
                    .collect();
                for key in gone {
                    loaded.index.remove(key)?;
                    loaded.items.remove(&key);
                    report.removed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Saves the index and its description in the directory given to
    /// [`MemoryIndex::new`] (nothing without one). Vectors of erased rows
    /// are purged first, so the file holds none.
    pub fn persist(&self) -> Result<(), SearchError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let Some(loaded) = state.as_mut() else {
            return Ok(());
        };
        loaded.index.purge()?;
        std::fs::create_dir_all(dir).map_err(|source| MemoryError::IndexFile {
            path: dir.clone(),
            source,
        })?;
        loaded.index.save_to(&dir.join(INDEX_FILE))?;
        let meta = SavedMeta {
            generation: loaded.generation,
            revision: loaded.revision,
            model_id: self.embedder.model_id().to_owned(),
            dims: loaded.index.dims(),
        };
        let path = dir.join(META_FILE);
        let meta_error = |message: String| SearchError::Meta {
            path: path.clone(),
            message,
        };
        let text = serde_json::to_vec_pretty(&meta).map_err(|e| meta_error(e.to_string()))?;
        let temporary = dir.join(format!("{META_FILE}.tmp"));
        std::fs::write(&temporary, text).map_err(|e| meta_error(e.to_string()))?;
        std::fs::rename(&temporary, &path).map_err(|e| meta_error(e.to_string()))
    }

    /// The memories nearest in meaning to `query.text` among those its
    /// filters accept, most similar first. Refreshes first if the index was
    /// never loaded; otherwise call [`MemoryIndex::refresh`] to see new rows.
    pub async fn search(&self, query: &MemoryQuery) -> Result<Vec<MemoryHit>, SearchError> {
        if query.k == 0 {
            return Ok(Vec::new());
        }
        if self.read(|loaded| loaded.is_none()) {
            self.refresh().await?;
        }
        let embedder = Arc::clone(&self.embedder);
        let text = query.text.clone();
        let vector = tokio::task::spawn_blocking(move || embedder.embed_one(&text))
            .await
            .map_err(|e| SearchError::Task(e.to_string()))??;

        let filtered = query.domain.is_some()
            || query.from.is_some()
            || query.until.is_some()
            || query.as_of.is_some();
        let (tables, neighbours, matching) = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            let Some(loaded) = state.as_ref() else {
                return Ok(Vec::new());
            };
            let accepts = |key: u64| {
                loaded
                    .items
                    .get(&key)
                    .is_some_and(|meta| matches(meta, query))
            };
            let neighbours = if filtered {
                loaded.index.search_filtered(&vector, query.k, accepts)?
            } else {
                loaded.index.search(&vector, query.k)?
            };
            let matching = if filtered {
                loaded.items.values().filter(|m| matches(m, query)).count()
            } else {
                loaded.items.len()
            };
            (loaded.tables.clone(), neighbours, matching)
        };
        let mut hits = self.hits(&tables, &neighbours).await?;
        if hits.len() < query.k && hits.len() < matching {
            hits = self.exact(&tables, &vector, query).await?;
        }
        Ok(hits)
    }

    fn read<T>(&self, f: impl FnOnce(Option<&Loaded>) -> T) -> T {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        f(state.as_ref())
    }

    /// The persisted index, if there is one for this generation and model.
    async fn load_file(
        &self,
        generation: i64,
        tables: Tables,
    ) -> Result<Option<Loaded>, SearchError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let Some(meta) = read_meta(&dir.join(META_FILE)) else {
            return Ok(None);
        };
        if meta.generation != generation
            || meta.model_id != self.embedder.model_id()
            || meta.dims != self.embedder.dims()
        {
            return Ok(None);
        }
        let path = dir.join(INDEX_FILE);
        let options = self.options;
        let index =
            match tokio::task::spawn_blocking(move || VectorIndex::load_from(&path, options))
                .await
                .map_err(|e| SearchError::Task(e.to_string()))?
            {
                Ok(index) => index,
                // A damaged file is rebuilt from SQL, as a missing one is.
                Err(error) => {
                    tracing::warn!(%error, "the memory index file does not load; rebuilding it");
                    return Ok(None);
                }
            };
        let mut index = index;
        // Rows up to the file's revision; those after are added by the
        // refresh, those gone are dropped here.
        let mut items = self.metas(&tables).await?;
        items.retain(|_, (_, revision)| *revision <= meta.revision);
        if index.len() != items.len() {
            for key in index.keys()? {
                if !items.contains_key(&key) {
                    index.remove(key)?;
                }
            }
        }
        Ok(Some(Loaded {
            generation,
            tables,
            revision: meta.revision,
            index,
            items: items
                .into_iter()
                .map(|(key, (meta, _))| (key, meta))
                .collect(),
        }))
    }

    /// An index of every stored embedding of the live generation.
    async fn build(&self, generation: i64, tables: Tables) -> Result<Loaded, SearchError> {
        let rows = self.rows_after(&tables, i64::MIN).await?;
        let dims = self.embedder.dims();
        let options = self.options;
        let entries: Vec<(u64, Embedding)> = rows
            .iter()
            .map(|(key, _, _, embedding)| (*key, embedding.clone()))
            .collect();
        let index = tokio::task::spawn_blocking(move || {
            let mut index = VectorIndex::with_options(dims, options)?;
            index.insert_many(&entries)?;
            Ok::<_, MemoryError>(index)
        })
        .await
        .map_err(|e| SearchError::Task(e.to_string()))??;
        let revision = rows.iter().map(|(_, _, r, _)| *r).max().unwrap_or(i64::MIN);
        Ok(Loaded {
            generation,
            tables,
            revision,
            index,
            items: rows
                .into_iter()
                .map(|(key, meta, _, _)| (key, meta))
                .collect(),
        })
    }

    /// Rows of this model with a revision above `revision`, with their
    /// embeddings.
    async fn rows_after(
        &self,
        tables: &Tables,
        revision: i64,
    ) -> Result<Vec<(u64, ItemMeta, i64, Embedding)>, SearchError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT item_key, domain, recorded_at_ms, position_commit, position_prepare,
                    revision, embedding
             FROM {} WHERE revision > $1 AND model_id = $2 ORDER BY item_key",
            tables.name(ITEMS)
        )))
        .bind(revision)
        .bind(self.embedder.model_id().to_owned())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let (key, meta) = item_meta(row)?;
                let bytes: Vec<u8> = row.try_get("embedding")?;
                Ok((
                    key,
                    meta,
                    row.try_get("revision")?,
                    Embedding::from_bytes(&bytes)?,
                ))
            })
            .collect()
    }

    /// Every row's key, filter fields and revision (no embeddings).
    async fn metas(&self, tables: &Tables) -> Result<HashMap<u64, (ItemMeta, i64)>, SearchError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT item_key, domain, recorded_at_ms, position_commit, position_prepare, revision
             FROM {} WHERE model_id = $1",
            tables.name(ITEMS)
        )))
        .bind(self.embedder.model_id().to_owned())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let (key, meta) = item_meta(row)?;
                Ok((key, (meta, row.try_get("revision")?)))
            })
            .collect()
    }

    /// The rows of `neighbours`, in their order; keys whose rows are gone
    /// are left out.
    async fn hits(
        &self,
        tables: &Tables,
        neighbours: &[super::Neighbour],
    ) -> Result<Vec<MemoryHit>, SearchError> {
        if neighbours.is_empty() {
            return Ok(Vec::new());
        }
        let mut statement = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HIT_COLUMNS} FROM {} WHERE item_key IN ({})",
            tables.name(ITEMS),
            placeholders(1, neighbours.len())
        )));
        for neighbour in neighbours {
            statement = statement.bind(sql_int(neighbour.key));
        }
        let rows = statement.fetch_all(self.db.pool()).await?;
        let mut by_key = HashMap::with_capacity(rows.len());
        for row in &rows {
            let key: i64 = row.try_get("item_key")?;
            by_key.insert(key, row);
        }
        neighbours
            .iter()
            .filter_map(|n| by_key.get(&sql_int(n.key)).map(|row| hit(row, n.score)))
            .collect()
    }

    /// The `k` best rows matching the filters, by comparing the query with
    /// every one of them.
    async fn exact(
        &self,
        tables: &Tables,
        vector: &Embedding,
        query: &MemoryQuery,
    ) -> Result<Vec<MemoryHit>, SearchError> {
        let mut conditions = Conditions::default();
        conditions.add(
            "model_id = ?",
            [Bind::Text(self.embedder.model_id().to_owned())],
        );
        if let Some(domain) = &query.domain {
            conditions.add("domain = ?", [Bind::Text(domain.clone())]);
        }
        if let Some(from) = query.from {
            conditions.add("recorded_at_ms >= ?", [Bind::Int(from.timestamp_millis())]);
        }
        if let Some(until) = query.until {
            conditions.add("recorded_at_ms < ?", [Bind::Int(until.timestamp_millis())]);
        }
        if let Some(as_of) = query.as_of {
            let (commit, prepare) = (sql_int(as_of.commit()), sql_int(as_of.prepare()));
            conditions.add(
                "(position_commit < ? OR (position_commit = ? AND position_prepare <= ?))",
                [Bind::Int(commit), Bind::Int(commit), Bind::Int(prepare)],
            );
        }
        let sql = format!(
            "SELECT {HIT_COLUMNS}, embedding FROM {} {}",
            tables.name(ITEMS),
            conditions.where_clause()
        );
        let rows = conditions.query(sql).fetch_all(self.db.pool()).await?;
        let mut scored = Vec::with_capacity(rows.len());
        for row in &rows {
            let bytes: Vec<u8> = row.try_get("embedding")?;
            let score = Embedding::from_bytes(&bytes)?.dot(vector)?;
            scored.push((score, row));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(query.k)
            .map(|(score, row)| hit(row, score))
            .collect()
    }
}

const HIT_COLUMNS: &str = "item_key, text, event_id, stream_id, domain, event_type, \
     position_commit, position_prepare, recorded_at_ms";

fn hit(row: &sqlx::any::AnyRow, score: f32) -> Result<MemoryHit, SearchError> {
    Ok(MemoryHit {
        score,
        text: row.try_get("text")?,
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        domain: row.try_get("domain")?,
        event_type: row.try_get("event_type")?,
        position: position(row)?,
        recorded_at: DateTime::from_timestamp_millis(row.try_get("recorded_at_ms")?)
            .unwrap_or_default(),
    })
}

fn position(row: &sqlx::any::AnyRow) -> Result<Position, sqlx::Error> {
    let part = |column: &str| -> Result<u64, sqlx::Error> {
        Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    Ok(Position::commit_prepare(
        part("position_commit")?,
        part("position_prepare")?,
    ))
}

fn item_meta(row: &sqlx::any::AnyRow) -> Result<(u64, ItemMeta), SearchError> {
    let key: i64 = row.try_get("item_key")?;
    Ok((
        u64::try_from(key).unwrap_or(0),
        ItemMeta {
            domain: row.try_get("domain")?,
            recorded_at_ms: row.try_get("recorded_at_ms")?,
            position: position(row)?,
        },
    ))
}

/// Whether a memory passes the query's filters.
fn matches(meta: &ItemMeta, query: &MemoryQuery) -> bool {
    query.domain.as_deref().is_none_or(|d| meta.domain == d)
        && query
            .from
            .is_none_or(|from| meta.recorded_at_ms >= from.timestamp_millis())
        && query
            .until
            .is_none_or(|until| meta.recorded_at_ms < until.timestamp_millis())
        && query.as_of.is_none_or(|as_of| meta.position <= as_of)
}

/// The description of a persisted index, if it reads.
fn read_meta(path: &Path) -> Option<SavedMeta> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}
