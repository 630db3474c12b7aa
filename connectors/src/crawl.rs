//! The crawler: walks a prefix of an object store, classifies and samples files, and
//! proposes tables, like the AWS Glue crawler.
//!
//! It returns a [`CrawlPlan`], plain data: the tables it found, how each differs from
//! the previous crawl, the files it skipped and why, and the [`CrawlState`] to keep
//! for the next crawl. It writes nothing: the SQL layer shows the plan (a dry run) or
//! has the catalog apply it.
//!
//! ```text
//! list prefix ─▶ group by table folder ─▶ sample new/changed files ─▶ merge schemas
//!   (one LIST)    (key=value and date       (first bytes only; old     (widen types,
//!                  levels are partitions)     files reuse the state)     split misfits)
//! ```

pub mod classify;
pub mod infer;
pub mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use crate::error::{ConnectorError, Result};
use crate::storage::StorageLocation;
pub use classify::{Compression, FileFormat};
pub use infer::{Column, ColumnType, CsvDialect};

/// How a crawl samples, groups and reacts to change. Defaults follow Glue's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlOptions {
    /// Rows sampled per file (default 1,000).
    pub sample_rows: usize,
    /// Bytes read from the start of a file at most (default 1 MiB).
    pub sample_bytes: usize,
    /// New files sampled per folder in one crawl (default 10); the others are assumed
    /// to match their folder.
    pub files_per_folder: usize,
    /// The folder depth below the crawled prefix where tables start (1 = each
    /// top-level folder is a table); deeper folders become partitions. Default:
    /// the deepest folder that is not a partition.
    pub table_level: Option<usize>,
    /// Glob patterns of paths (relative to the prefix) to leave out.
    pub exclude: Vec<String>,
    /// At most this many tables; the rest are reported, not created.
    pub max_tables: Option<usize>,
    /// Combine sibling folders whose files share a format and compatible columns into
    /// one table at their parent, the folder name becoming a column (Glue's "create a
    /// single schema for each S3 path"). Default false: each folder its own table.
    pub combine: bool,
    /// What a re-crawl does with new columns: add them, or only log them.
    pub schema_change: SchemaChangePolicy,
    /// What a re-crawl does when all of a table's files are gone.
    pub deleted: DeletedPolicy,
}

impl Default for CrawlOptions {
    fn default() -> Self {
        Self {
            sample_rows: 1000,
            sample_bytes: 1 << 20,
            files_per_folder: 10,
            table_level: None,
            exclude: Vec::new(),
            max_tables: None,
            combine: false,
            schema_change: SchemaChangePolicy::Update,
            deleted: DeletedPolicy::Log,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaChangePolicy {
    Update,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletedPolicy {
    /// Keep the table; report the deletion.
    Log,
    /// Drop the table from the catalog (its files are already gone).
    Delete,
    /// Keep the table, marked deprecated in its catalog entry (property
    /// `deprecated_by_crawler`), until its files come back.
    Deprecate,
}

/// One file as the crawler saw it, kept between crawls so unchanged files are not
/// read again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub size: u64,
    pub e_tag: Option<String>,
    pub last_modified: String,
    /// What sampling found; `None` for files not sampled (assumed like their folder).
    pub class: Option<FileClass>,
}

impl FileRecord {
    fn same_object(&self, meta: &ObjectMeta) -> bool {
        self.size == meta.size
            && self.e_tag == meta.e_tag
            && self.last_modified == meta.last_modified.to_rfc3339()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileClass {
    #[serde(flatten)]
    pub format: FileFormat,
    pub compression: Compression,
    pub columns: Vec<Column>,
}

/// A table's format: files of one format, or a Delta table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TableFormat {
    Delta,
    Files {
        #[serde(flatten)]
        format: FileFormat,
        compression: Compression,
    },
}

/// A proposed table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    /// Identifies the table across crawls: its folder, format and split.
    pub key: String,
    /// The folder (relative to the crawled prefix, `""` for the prefix itself).
    pub folder: String,
    /// Its URL, ending in `/`.
    pub location: String,
    /// The extension the table's files share (`.csv`, `.jsonl`, `.csv.gz`): the reader
    /// reads only those, so markers (`_SUCCESS`) and other files in the folder are
    /// left alone.
    pub file_extension: Option<String>,
    pub format: TableFormat,
    pub columns: Vec<Column>,
    /// Named partition columns (`key=value` folders), in folder order.
    pub partitions: Vec<Column>,
    /// Unnamed date-like folder levels (`2024/01/15`), exposed as `partition_0..`
    /// columns (when the table has no `key=value` levels too).
    pub unnamed_levels: usize,
    /// Files have fewer columns than the table (columns added later): missing trailing
    /// values read as null.
    pub ragged: bool,
}

/// What applying the plan would do to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// All of its files are gone and the policy drops it.
    Drop,
    /// All of its files are gone and the policy marks it deprecated.
    Deprecate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Drop => "drop",
            Action::Deprecate => "deprecate",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TablePlan {
    pub table: TableDef,
    pub action: Action,
    /// Why: columns added or widened, partitions added, files gone, changes only logged.
    pub changes: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    /// The files of the table (relative to the crawled prefix).
    pub paths: Vec<String>,
}

/// A file left out, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What the crawler remembers of a location between crawls.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CrawlState {
    pub location: String,
    pub files: BTreeMap<String, FileRecord>,
    pub tables: BTreeMap<String, TableDef>,
    /// Partition folders seen per table key.
    pub partitions: BTreeMap<String, BTreeSet<String>>,
    /// Keys of tables marked deprecated because their files were gone.
    #[serde(default)]
    pub deprecated: BTreeSet<String>,
}

/// The crawler's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrawlPlan {
    pub location: String,
    pub tables: Vec<TablePlan>,
    pub skipped: Vec<Skipped>,
    pub files_listed: usize,
    /// Files whose first bytes were read in this crawl.
    pub files_read: usize,
    /// Their paths.
    pub read: BTreeSet<String>,
    /// Files unchanged since the previous crawl (not read).
    pub files_unchanged: usize,
    /// The state to keep for the next crawl, once the plan is applied.
    pub state: CrawlState,
}

/// A file to place in a table.
struct Candidate {
    path: String,
    meta: ObjectMeta,
    root: String,
    /// `key=value` pairs of the named partition folders.
    partitions: Vec<(String, String)>,
    unnamed_levels: usize,
    leaf: String,
}

/// Crawls `location`, comparing with `previous` (the state of the last crawl).
#[tracing::instrument(skip_all, fields(location = %location.display_url()))]
pub async fn plan(
    location: &StorageLocation,
    options: &CrawlOptions,
    previous: Option<&CrawlState>,
) -> Result<CrawlPlan> {
    let excludes = options
        .exclude
        .iter()
        .map(|g| {
            glob::Pattern::new(g).map_err(|e| ConnectorError::InvalidOption {
                key: "exclude".to_owned(),
                value: g.clone(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let prefix = location.path("");
    let objects: Vec<ObjectMeta> = location.store().list(Some(&prefix)).try_collect().await?;
    let files_listed = objects.len();
    let relative = |meta: &ObjectMeta| -> String {
        let full = meta.location.as_ref();
        full.strip_prefix(prefix.as_ref())
            .unwrap_or(full)
            .trim_start_matches('/')
            .to_owned()
    };

    // Delta tables first: their folders belong to them, Parquet files included.
    let mut delta_logs: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
    for meta in &objects {
        let rel = relative(meta);
        let segments: Vec<&str> = rel.split('/').collect();
        if let Some(i) = segments.iter().position(|s| *s == "_delta_log") {
            delta_logs
                .entry(segments[..i].join("/"))
                .or_default()
                .push(meta.clone());
        }
    }
    let in_delta = |rel: &str| {
        delta_logs
            .keys()
            .any(|root| root.is_empty() || rel.starts_with(&format!("{root}/")))
    };

    let mut skipped = Vec::new();
    let mut candidates = Vec::new();
    let mut all_files: Vec<String> = Vec::new();
    for meta in objects {
        let rel = relative(&meta);
        if rel.is_empty() || in_delta(&rel) {
            continue;
        }
        // Every file counts when deciding whether a table's folder holds others'
        // files (markers like `_SUCCESS` included): the reader would see them too.
        all_files.push(rel.clone());
        if let Some(p) = excludes.iter().find(|p| p.matches(&rel)) {
            skipped.push(Skipped {
                path: rel,
                reason: format!("excluded by {:?}", p.as_str()),
            });
            continue;
        }
        let segments: Vec<&str> = rel.split('/').collect();
        if segments
            .iter()
            .any(|s| s.starts_with('.') || s.starts_with('_'))
        {
            skipped.push(Skipped {
                path: rel,
                reason: "hidden or marker file".to_owned(),
            });
            continue;
        }
        let folders = &segments[..segments.len() - 1];
        let split = match options.table_level {
            Some(level) => level.min(folders.len()),
            None => (0..=folders.len())
                .find(|&k| folders[k..].iter().all(|s| partition_like(s)))
                .unwrap_or(folders.len()),
        };
        let mut partitions = Vec::new();
        let mut unnamed_levels = 0;
        for segment in &folders[split..] {
            match segment.split_once('=') {
                Some((k, v)) if !k.is_empty() => partitions.push((k.to_owned(), v.to_owned())),
                _ => unnamed_levels += 1,
            }
        }
        candidates.push(Candidate {
            root: folders[..split].join("/"),
            leaf: folders.join("/"),
            path: rel,
            meta,
            partitions,
            unnamed_levels,
        });
    }

    // Sample new and changed files, a bounded number per folder.
    let mut budget: HashMap<String, usize> = HashMap::new();
    let mut to_read = Vec::new();
    let mut records: BTreeMap<String, FileRecord> = BTreeMap::new();
    let mut files_unchanged = 0;
    for c in &candidates {
        let known = previous.and_then(|p| p.files.get(&c.path));
        match known {
            Some(record) if record.same_object(&c.meta) => {
                files_unchanged += 1;
                records.insert(c.path.clone(), record.clone());
            }
            _ => {
                let used = budget.entry(c.leaf.clone()).or_insert(0);
                let record = FileRecord {
                    size: c.meta.size,
                    e_tag: c.meta.e_tag.clone(),
                    last_modified: c.meta.last_modified.to_rfc3339(),
                    class: None,
                };
                if *used < options.files_per_folder.max(1) {
                    *used += 1;
                    to_read.push(c.path.clone());
                }
                records.insert(c.path.clone(), record);
            }
        }
    }
    let files_read = to_read.len();
    let store = location.store().clone();
    let metas: HashMap<&str, &ObjectMeta> = candidates
        .iter()
        .map(|c| (c.path.as_str(), &c.meta))
        .collect();
    let jobs: Vec<(String, ObjectMeta)> = to_read
        .iter()
        .map(|path| (path.clone(), metas[path.as_str()].clone()))
        .collect();
    let sampled: Vec<(String, std::result::Result<FileClass, String>)> =
        futures::stream::iter(jobs.into_iter().map(|(path, meta)| {
            let store = store.clone();
            let options = options.clone();
            async move {
                let class = sample(&store, &meta, &options).await;
                (path, class)
            }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
    let mut unreadable: HashSet<String> = HashSet::new();
    for (path, result) in sampled {
        match result {
            Ok(class) => {
                if let Some(r) = records.get_mut(&path) {
                    r.class = Some(class);
                }
            }
            Err(reason) => {
                unreadable.insert(path.clone());
                skipped.push(Skipped { path, reason });
            }
        }
    }

    // Group into tables: by folder and partition layout, then by format, then by
    // compatible columns.
    let mut groups: BTreeMap<(String, Vec<String>, usize), Vec<&Candidate>> = BTreeMap::new();
    for c in candidates.iter().filter(|c| !unreadable.contains(&c.path)) {
        let keys = c.partitions.iter().map(|(k, _)| k.clone()).collect();
        groups
            .entry((c.root.clone(), keys, c.unnamed_levels))
            .or_default()
            .push(c);
    }
    let previous_names: HashMap<&str, &str> = previous
        .map(|p| {
            p.tables
                .values()
                .map(|t| (t.key.as_str(), t.name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut taken: HashSet<String> = previous_names.values().map(|n| (*n).to_owned()).collect();
    let base_name = |root: &str| -> String {
        let last = root
            .rsplit('/')
            .find(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                location
                    .url()
                    .path_segments()
                    .and_then(|s| s.filter(|s| !s.is_empty()).next_back().map(str::to_owned))
            })
            .or_else(|| location.url().host_str().map(str::to_owned))
            .unwrap_or_else(|| "crawled".to_owned());
        names::clean(&last).unwrap_or_else(|| "crawled".to_owned())
    };

    let mut tables: Vec<Proposed> = Vec::new();
    let multi_layout: HashMap<String, usize> =
        groups.keys().fold(HashMap::new(), |mut m, (root, _, _)| {
            *m.entry(root.clone()).or_insert(0) += 1;
            m
        });
    for ((root, keys, unnamed), members) in &groups {
        // Split by format (and dialect and compression), sampled files only.
        let mut by_format: Vec<(TableFormat, Vec<Vec<&Candidate>>, Vec<Vec<Column>>)> = Vec::new();
        let mut unsampled: Vec<&Candidate> = Vec::new();
        for c in members {
            let Some(class) = records.get(&c.path).and_then(|r| r.class.as_ref()) else {
                unsampled.push(c);
                continue;
            };
            let format = TableFormat::Files {
                format: class.format.clone(),
                compression: class.compression,
            };
            let entry = match by_format.iter_mut().position(|(f, _, _)| *f == format) {
                Some(i) => &mut by_format[i],
                None => {
                    by_format.push((format, Vec::new(), Vec::new()));
                    by_format.last_mut().expect("just pushed")
                }
            };
            // Compatible columns: one file's names are a prefix of the other's.
            match entry
                .2
                .iter()
                .position(|cols| compatible(cols, &class.columns))
            {
                Some(i) => {
                    entry.1[i].push(c);
                    entry.2[i] = merge_columns(&entry.2[i], &class.columns);
                }
                None => {
                    entry.1.push(vec![c]);
                    entry.2.push(class.columns.clone());
                }
            }
        }
        if by_format.is_empty() {
            for c in unsampled {
                skipped.push(Skipped {
                    path: c.path.clone(),
                    reason: "not sampled, and no sampled file in its folder to match".to_owned(),
                });
            }
            continue;
        }
        // Unsampled files join the largest table of their folder.
        let (fi, si) = by_format
            .iter()
            .enumerate()
            .flat_map(|(fi, (_, sets, _))| {
                sets.iter()
                    .enumerate()
                    .map(move |(si, s)| (fi, si, s.len()))
            })
            .max_by_key(|&(_, _, n)| n)
            .map(|(fi, si, _)| (fi, si))
            .expect("a sampled file");
        by_format[fi].1[si].extend(unsampled);
        let several = by_format.len() > 1;
        let root_has_foreign = |files: &[&Candidate]| {
            let own: HashSet<&str> = files.iter().map(|c| c.path.as_str()).collect();
            all_files.iter().any(|p| {
                (root.is_empty() || p.starts_with(&format!("{root}/"))) && !own.contains(p.as_str())
            }) || multi_layout.get(root).copied().unwrap_or(0) > 1
        };
        for (format, sets, columns) in by_format {
            let family = match &format {
                TableFormat::Files { format, .. } => format.family(),
                TableFormat::Delta => "delta",
            };
            for (i, (files, columns)) in sets.into_iter().zip(columns).enumerate() {
                let key = format!("{root}|{}|{family}|{i}|{unnamed}", keys.join(","));
                let name = match previous_names.get(key.as_str()) {
                    Some(n) => (*n).to_owned(),
                    None => {
                        let mut base = base_name(root);
                        if several {
                            base = format!("{base}_{family}");
                        }
                        names::unique(base, &mut taken)
                    }
                };
                let widths: BTreeSet<usize> = files
                    .iter()
                    .filter_map(|c| {
                        records
                            .get(&c.path)?
                            .class
                            .as_ref()
                            .map(|k| k.columns.len())
                    })
                    .collect();
                let partition_values: BTreeSet<String> = files
                    .iter()
                    .filter(|c| !c.partitions.is_empty())
                    .map(|c| {
                        c.partitions
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect();
                let partitions = keys
                    .iter()
                    .enumerate()
                    .map(|(pi, k)| {
                        let ints = files.iter().all(|c| {
                            c.partitions
                                .get(pi)
                                .is_some_and(|(_, v)| !v.is_empty() && v.parse::<i64>().is_ok())
                        });
                        Column {
                            name: names::clean(k).unwrap_or_else(|| format!("partition_{pi}")),
                            source_name: Some(k.clone()),
                            data_type: if ints {
                                ColumnType::Bigint
                            } else {
                                ColumnType::String
                            },
                            nullable: true,
                            format: None,
                        }
                    })
                    .collect();
                // Readers pick files by their format's usual extension (`.json`,
                // not `.jsonl`) unless told: name the one these files share.
                let file_extension = common_extension(&files);
                if file_extension.is_none() && root_has_foreign(&files) {
                    tracing::warn!(table = %root, "files of several extensions beside other files: the table may read them all");
                }
                let bytes = files.iter().map(|c| c.meta.size).sum();
                let paths = files.iter().map(|c| c.path.clone()).collect();
                let folder_url = folder_url(location, root)?;
                tables.push((
                    TableDef {
                        name,
                        key,
                        folder: root.clone(),
                        location: folder_url.to_string(),
                        file_extension,
                        format: format.clone(),
                        columns,
                        partitions,
                        unnamed_levels: *unnamed,
                        ragged: widths.len() > 1,
                    },
                    paths,
                    bytes,
                    partition_values,
                ));
            }
        }
    }
    for (root, log) in &delta_logs {
        let key = format!("{root}|delta");
        let name = match previous_names.get(key.as_str()) {
            Some(n) => (*n).to_owned(),
            None => names::unique(base_name(root), &mut taken),
        };
        let folder_url = folder_url(location, root)?;
        tables.push((
            TableDef {
                name,
                key,
                folder: root.clone(),
                location: folder_url.to_string(),
                file_extension: None,
                format: TableFormat::Delta,
                columns: delta_columns(location.store().as_ref(), log).await,
                partitions: Vec::new(),
                unnamed_levels: 0,
                ragged: false,
            },
            Vec::new(),
            log.iter().map(|m| m.size).sum(),
            BTreeSet::new(),
        ));
    }

    if options.combine {
        tables = combine_siblings(tables, location, &previous_names, &mut taken)?;
    }

    // Compare with the previous crawl.
    let mut plans = Vec::new();
    let mut state = CrawlState {
        location: location.display_url(),
        files: records,
        tables: BTreeMap::new(),
        partitions: BTreeMap::new(),
        deprecated: BTreeSet::new(),
    };
    let mut seen_keys = HashSet::new();
    for (def, files, bytes, partition_values) in tables {
        seen_keys.insert(def.key.clone());
        let before = previous.and_then(|p| p.tables.get(&def.key));
        let old_partitions = previous
            .and_then(|p| p.partitions.get(&def.key))
            .cloned()
            .unwrap_or_default();
        let mut changes = Vec::new();
        let back = previous.is_some_and(|p| p.deprecated.contains(&def.key));
        let (action, kept) = match before {
            Some(_) if back => {
                changes.push("files are back: no longer deprecated".to_owned());
                (Action::Update, def.clone())
            }
            None => {
                changes.push(describe_new(&def, files.len()));
                (Action::Create, def.clone())
            }
            Some(old) => {
                let column_changes = diff_columns(&old.columns, &def.columns);
                let definition_changed = old.columns != def.columns
                    || old.partitions != def.partitions
                    || old.file_extension != def.file_extension
                    || old.ragged != def.ragged
                    || old.format != def.format;
                let added: Vec<&String> = partition_values.difference(&old_partitions).collect();
                if !added.is_empty() {
                    changes.push(format!(
                        "{} new partition{}: {}",
                        added.len(),
                        if added.len() == 1 { "" } else { "s" },
                        added
                            .iter()
                            .take(5)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !definition_changed {
                    (Action::Unchanged, def.clone())
                } else if options.schema_change == SchemaChangePolicy::Log {
                    changes.extend(
                        column_changes
                            .into_iter()
                            .map(|c| format!("{c} (logged only: schema_change = log)")),
                    );
                    (Action::Unchanged, old.clone())
                } else {
                    changes.extend(column_changes);
                    (Action::Update, def.clone())
                }
            }
        };
        state.tables.insert(kept.key.clone(), kept.clone());
        state.partitions.insert(kept.key.clone(), partition_values);
        plans.push(TablePlan {
            table: kept,
            action,
            changes,
            files: files.len(),
            bytes,
            paths: files,
        });
    }
    if let Some(previous) = previous {
        for (key, old) in &previous.tables {
            if seen_keys.contains(key) {
                continue;
            }
            let (action, change) = match options.deleted {
                DeletedPolicy::Log => {
                    state.tables.insert(key.clone(), old.clone());
                    (
                        Action::Unchanged,
                        "all files are gone (kept: deleted = log)",
                    )
                }
                DeletedPolicy::Delete => (
                    Action::Drop,
                    "all files are gone (dropped: deleted = delete)",
                ),
                DeletedPolicy::Deprecate => {
                    state.tables.insert(key.clone(), old.clone());
                    state.deprecated.insert(key.clone());
                    (
                        Action::Deprecate,
                        "all files are gone (marked deprecated: deleted = deprecate)",
                    )
                }
            };
            plans.push(TablePlan {
                table: old.clone(),
                action,
                changes: vec![change.to_owned()],
                files: 0,
                bytes: 0,
                paths: Vec::new(),
            });
        }
    }
    plans.sort_by(|a, b| a.table.name.cmp(&b.table.name));
    if let Some(max) = options.max_tables {
        let creates: Vec<usize> = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.action == Action::Create)
            .map(|(i, _)| i)
            .collect();
        let existing = plans.len() - creates.len();
        for &i in creates.iter().skip(max.saturating_sub(existing)) {
            let p = &mut plans[i];
            skipped.push(Skipped {
                path: p.table.folder.clone(),
                reason: format!("table {} not created: max_tables = {max}", p.table.name),
            });
            state.tables.remove(&p.table.key);
        }
        let over: HashSet<usize> = creates
            .into_iter()
            .skip(max.saturating_sub(existing))
            .collect();
        let mut i = 0;
        plans.retain(|_| {
            i += 1;
            !over.contains(&(i - 1))
        });
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(CrawlPlan {
        location: location.display_url(),
        tables: plans,
        skipped,
        files_listed,
        files_read,
        read: to_read.into_iter().collect(),
        files_unchanged,
        state,
    })
}

type Proposed = (TableDef, Vec<String>, u64, BTreeSet<String>);

/// The URL of `folder` (relative, `""` for the crawled prefix itself), ending in `/`.
fn folder_url(location: &StorageLocation, folder: &str) -> Result<url::Url> {
    if folder.is_empty() {
        Ok(location.url().clone())
    } else {
        location.child_url(folder)
    }
}

/// Merges tables that are sibling folders (same parent, format and compatible
/// columns, no `key=value` levels) into one table at the parent with one more
/// unnamed level: the folder names become `partition_0`.
fn combine_siblings(
    tables: Vec<Proposed>,
    location: &StorageLocation,
    previous_names: &HashMap<&str, &str>,
    taken: &mut HashSet<String>,
) -> Result<Vec<Proposed>> {
    let parent_of = |folder: &str| folder.rsplit_once('/').map(|(p, _)| p.to_owned());
    let mut groups: BTreeMap<String, Vec<Proposed>> = BTreeMap::new();
    let mut out = Vec::new();
    for t in tables {
        match (&t.0.format, parent_of(&t.0.folder)) {
            (TableFormat::Files { .. }, Some(parent)) if t.0.partitions.is_empty() => {
                groups.entry(parent).or_default().push(t);
            }
            _ => out.push(t),
        }
    }
    for (parent, members) in groups {
        let first = &members[0].0;
        let combinable = members.len() > 1
            && members.iter().all(|m| {
                m.0.format == first.format
                    && m.0.unnamed_levels == first.unnamed_levels
                    && compatible(&m.0.columns, &first.columns)
            });
        if !combinable {
            out.extend(members);
            continue;
        }
        let mut columns = first.columns.clone();
        for m in &members[1..] {
            columns = merge_columns(&columns, &m.0.columns);
        }
        let widths: BTreeSet<usize> = members.iter().map(|m| m.0.columns.len()).collect();
        let extensions: BTreeSet<Option<String>> =
            members.iter().map(|m| m.0.file_extension.clone()).collect();
        let key = format!("{parent}|combined|{}", first.unnamed_levels + 1);
        let name = match previous_names.get(key.as_str()) {
            Some(n) => (*n).to_owned(),
            None => {
                for m in &members {
                    taken.remove(&m.0.name);
                }
                let base = parent
                    .rsplit('/')
                    .next()
                    .and_then(names::clean)
                    .unwrap_or_else(|| "combined".to_owned());
                names::unique(base, taken)
            }
        };
        let def = TableDef {
            name,
            key,
            folder: parent.clone(),
            location: folder_url(location, &parent)?.to_string(),
            file_extension: if extensions.len() == 1 {
                extensions.into_iter().next().flatten()
            } else {
                None
            },
            format: first.format.clone(),
            columns,
            partitions: Vec::new(),
            unnamed_levels: first.unnamed_levels + 1,
            ragged: widths.len() > 1 || members.iter().any(|m| m.0.ragged),
        };
        let paths = members.iter().flat_map(|m| m.1.clone()).collect();
        let bytes = members.iter().map(|m| m.2).sum();
        let partitions = members.iter().flat_map(|m| m.3.clone()).collect();
        out.push((def, paths, bytes, partitions));
    }
    Ok(out)
}

/// A folder name that is a partition: `key=value`, or a date-like number (`2024`,
/// `01`).
fn partition_like(segment: &str) -> bool {
    match segment.split_once('=') {
        Some((k, _)) => !k.is_empty(),
        None => {
            !segment.is_empty() && segment.len() <= 4 && segment.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

fn compatible(a: &[Column], b: &[Column]) -> bool {
    let n = a.len().min(b.len());
    n > 0 && a[..n].iter().zip(&b[..n]).all(|(x, y)| x.name == y.name)
}

fn merge_columns(a: &[Column], b: &[Column]) -> Vec<Column> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    long.iter()
        .enumerate()
        .map(|(i, c)| match short.get(i) {
            Some(other) => c.widen(other),
            None => Column {
                nullable: true,
                ..c.clone()
            },
        })
        .collect()
}

fn diff_columns(old: &[Column], new: &[Column]) -> Vec<String> {
    let mut out = Vec::new();
    for c in new {
        match old.iter().find(|o| o.name == c.name) {
            None => out.push(format!("column {} {} added", c.name, c.data_type.sql())),
            Some(o) if o.data_type != c.data_type || o.format != c.format => out.push(format!(
                "column {}: {} -> {}",
                c.name,
                o.data_type.sql(),
                c.data_type.sql()
            )),
            _ => {}
        }
    }
    for o in old {
        if !new.iter().any(|c| c.name == o.name) {
            out.push(format!("column {} no longer in the files", o.name));
        }
    }
    if out.is_empty() {
        out.push("definition changed".to_owned());
    }
    out
}

fn describe_new(def: &TableDef, files: usize) -> String {
    let format = match &def.format {
        TableFormat::Delta => "Delta table".to_owned(),
        TableFormat::Files {
            format,
            compression,
        } => {
            let mut s = format.family().to_owned();
            if let Some(c) = compression.sql() {
                s.push_str(&format!(" ({c})"));
            }
            if let FileFormat::Csv { dialect } = format {
                s.push_str(&format!(
                    ", delimiter {:?}, {}",
                    dialect.delimiter as char,
                    if dialect.header {
                        "header"
                    } else {
                        "no header"
                    }
                ));
            }
            s
        }
    };
    let mut text = format!("{format}, {} columns", def.columns.len());
    if files > 0 {
        text.push_str(&format!(", {files} files"));
    }
    if !def.partitions.is_empty() {
        let names: Vec<&str> = def.partitions.iter().map(|p| p.name.as_str()).collect();
        text.push_str(&format!(", partitioned by {}", names.join(", ")));
    }
    if def.unnamed_levels > 0 && def.partitions.is_empty() {
        let names: Vec<String> = (0..def.unnamed_levels)
            .map(|i| format!("partition_{i}"))
            .collect();
        text.push_str(&format!(", folder levels as {}", names.join(", ")));
    } else if def.unnamed_levels > 0 {
        text.push_str(&format!(
            ", {} unnamed folder levels beside key=value ones: read, not exposed as columns",
            def.unnamed_levels
        ));
    }
    text
}

/// The extension shared by all `files` (`.csv`, `.csv.gz`), if any.
fn common_extension(files: &[&Candidate]) -> Option<String> {
    let ext = |p: &str| -> Option<String> {
        let name = p.rsplit('/').next()?;
        let dot = name.find('.')?;
        Some(name[dot..].to_owned())
    };
    let first = ext(&files.first()?.path)?;
    files
        .iter()
        .all(|c| ext(&c.path).as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// Reads the start of a file (and a Parquet footer) and classifies it.
async fn sample(
    store: &std::sync::Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
    options: &CrawlOptions,
) -> std::result::Result<FileClass, String> {
    let len = meta.size.min(options.sample_bytes as u64);
    let head = if len == 0 {
        bytes::Bytes::new()
    } else {
        store
            .get_range(&meta.location, 0..len)
            .await
            .map_err(|e| format!("unreadable: {e}"))?
    };
    let name = meta.location.filename().unwrap_or_default();
    match classify::classify(name, &head, options.sample_bytes, options.sample_rows) {
        classify::Classified::File {
            format,
            compression,
            columns,
            ..
        } => Ok(FileClass {
            format,
            compression,
            columns,
        }),
        classify::Classified::ParquetNeedsFooter => parquet_class(store, meta).await,
        classify::Classified::Unknown { reason } => Err(reason),
    }
}

async fn parquet_class(
    store: &std::sync::Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
) -> std::result::Result<FileClass, String> {
    if meta.size < 12 {
        return Err("Parquet file too short for a footer".to_owned());
    }
    let tail = store
        .get_range(&meta.location, meta.size - 8..meta.size)
        .await
        .map_err(|e| format!("unreadable: {e}"))?;
    if &tail[4..] != b"PAR1" {
        return Err("Parquet file without its footer (truncated?)".to_owned());
    }
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_len + 8 > meta.size {
        return Err("Parquet footer longer than the file".to_owned());
    }
    let footer = store
        .get_range(&meta.location, meta.size - 8 - footer_len..meta.size - 8)
        .await
        .map_err(|e| format!("unreadable: {e}"))?;
    let metadata = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&footer)
        .map_err(|e| format!("unreadable Parquet footer: {e}"))?;
    let file = metadata.file_metadata();
    let schema =
        parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
            .map_err(|e| format!("unreadable Parquet schema: {e}"))?;
    let mut seen = HashSet::new();
    let columns = schema
        .fields()
        .iter()
        .map(|f| Column {
            name: names::unique(
                names::clean(f.name()).unwrap_or_else(|| "col".to_owned()),
                &mut seen,
            ),
            source_name: Some(f.name().clone()),
            data_type: arrow_type(f.data_type()),
            nullable: f.is_nullable(),
            format: None,
        })
        .collect();
    Ok(FileClass {
        format: FileFormat::Parquet,
        compression: Compression::None,
        columns,
    })
}

fn arrow_type(t: &arrow_schema::DataType) -> ColumnType {
    use arrow_schema::DataType as D;
    match t {
        D::Boolean => ColumnType::Boolean,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            ColumnType::Bigint
        }
        D::Float16 | D::Float32 | D::Float64 => ColumnType::Double,
        D::Decimal128(p, s) if *s >= 0 => ColumnType::Decimal {
            precision: *p,
            scale: *s as u8,
        },
        D::Date32 | D::Date64 => ColumnType::Date,
        D::Timestamp(_, _) => ColumnType::Timestamp,
        D::Utf8 | D::LargeUtf8 | D::Utf8View => ColumnType::String,
        other => ColumnType::Native {
            name: other.to_string(),
        },
    }
}

/// The columns of a Delta table, from the newest commit in its log that holds its
/// metadata (a table whose log starts at a checkpoint reports none here; the catalog
/// reads it fully when it registers the table).
async fn delta_columns(store: &dyn ObjectStore, log: &[ObjectMeta]) -> Vec<Column> {
    let mut commits: Vec<&ObjectMeta> = log
        .iter()
        .filter(|m| {
            m.location.as_ref().ends_with(".json") && !m.location.as_ref().contains("checkpoint")
        })
        .collect();
    commits.sort_by(|a, b| b.location.cmp(&a.location));
    for meta in commits.into_iter().take(20) {
        let Ok(result) = store.get(&meta.location).await else {
            continue;
        };
        let Ok(bytes) = result.bytes().await else {
            continue;
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(schema) = action["metaData"]["schemaString"].as_str() else {
                continue;
            };
            let Ok(schema) = serde_json::from_str::<serde_json::Value>(schema) else {
                continue;
            };
            return schema["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|f| {
                            let name = f["name"].as_str().unwrap_or("col").to_owned();
                            let t = f["type"].as_str().unwrap_or("struct");
                            Column {
                                name: name.clone(),
                                source_name: Some(name),
                                data_type: match t {
                                    "long" | "integer" | "short" | "byte" => ColumnType::Bigint,
                                    "double" | "float" => ColumnType::Double,
                                    "boolean" => ColumnType::Boolean,
                                    "string" => ColumnType::String,
                                    "date" => ColumnType::Date,
                                    "timestamp" | "timestamp_ntz" => ColumnType::Timestamp,
                                    other => ColumnType::Native {
                                        name: other.to_owned(),
                                    },
                                },
                                nullable: f["nullable"].as_bool().unwrap_or(true),
                                format: None,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &std::path::Path, path: &str, body: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }

    fn names(plan: &CrawlPlan) -> Vec<(String, Action)> {
        plan.tables
            .iter()
            .map(|t| (t.table.name.clone(), t.action))
            .collect()
    }

    #[tokio::test]
    async fn table_level_exclude_max_tables_and_unnamed_levels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = "id,amount\n1,2.5\n";
        write(dir.path(), "logs/2024/01/15/a.csv", csv);
        write(dir.path(), "logs/2024/01/16/b.csv", csv);
        write(dir.path(), "shop/orders/x.csv", csv);
        write(dir.path(), "shop/returns/y.csv", csv);
        write(dir.path(), "shop/returns/tmp/z.tmp", "scratch");
        let location =
            StorageLocation::open(&dir.path().display().to_string(), HashMap::new()).expect("open");

        // Default: date-like levels are partitions of `logs`; each shop folder a table.
        let plan = plan(
            &location,
            &CrawlOptions {
                exclude: vec!["**/*.tmp".into()],
                ..CrawlOptions::default()
            },
            None,
        )
        .await
        .expect("plan");
        assert_eq!(
            names(&plan),
            vec![
                ("logs".to_owned(), Action::Create),
                ("orders".to_owned(), Action::Create),
                ("returns".to_owned(), Action::Create),
            ]
        );
        let logs = &plan.tables[0];
        assert_eq!(logs.table.unnamed_levels, 3);
        assert!(
            logs.changes[0].contains("partition_0, partition_1, partition_2"),
            "{:?}",
            logs.changes
        );
        assert!(
            plan.skipped
                .iter()
                .any(|s| s.path.ends_with("z.tmp") && s.reason.contains("excluded"))
        );

        // table_level = 1: `shop` is one table; its folders are levels below it.
        let plan = plan_with(
            &location,
            CrawlOptions {
                table_level: Some(1),
                exclude: vec!["**/*.tmp".into()],
                ..CrawlOptions::default()
            },
        )
        .await;
        assert_eq!(
            names(&plan),
            vec![
                ("logs".to_owned(), Action::Create),
                ("shop".to_owned(), Action::Create)
            ]
        );

        // max_tables = 1: one table proposed, the others reported.
        let plan = plan_with(
            &location,
            CrawlOptions {
                max_tables: Some(1),
                exclude: vec!["**/*.tmp".into()],
                ..CrawlOptions::default()
            },
        )
        .await;
        assert_eq!(plan.tables.len(), 1);
        assert_eq!(
            plan.skipped
                .iter()
                .filter(|s| s.reason.contains("max_tables"))
                .count(),
            2
        );
    }

    async fn plan_with(location: &StorageLocation, options: CrawlOptions) -> CrawlPlan {
        plan(location, &options, None).await.expect("plan")
    }

    #[tokio::test]
    async fn combine_merges_compatible_siblings_into_one_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "crimes/boston/a.csv", "id,kind\n1,theft\n");
        write(
            dir.path(),
            "crimes/denver/b.csv",
            "id,kind,arrest\n2,fraud,true\n",
        );
        write(dir.path(), "other/x.json", "{\"a\": 1}\n");
        let location =
            StorageLocation::open(&dir.path().display().to_string(), HashMap::new()).expect("open");
        let separate = plan_with(&location, CrawlOptions::default()).await;
        assert_eq!(
            names(&separate),
            vec![
                ("boston".to_owned(), Action::Create),
                ("denver".to_owned(), Action::Create),
                ("other".to_owned(), Action::Create),
            ]
        );
        let combined = plan_with(
            &location,
            CrawlOptions {
                combine: true,
                ..CrawlOptions::default()
            },
        )
        .await;
        assert_eq!(
            names(&combined),
            vec![
                ("crimes".to_owned(), Action::Create),
                ("other".to_owned(), Action::Create)
            ]
        );
        let crimes = &combined.tables[0].table;
        assert_eq!(crimes.unnamed_levels, 1);
        assert!(crimes.ragged, "boston's files lack the arrest column");
        let names: Vec<&str> = crimes.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["id", "kind", "arrest"]);
    }

    #[tokio::test]
    async fn deleted_tables_are_logged_or_dropped_by_policy() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a/x.csv", "id\n1\n2\n");
        write(dir.path(), "b/y.csv", "id\n1\n2\n");
        let location =
            StorageLocation::open(&dir.path().display().to_string(), HashMap::new()).expect("open");
        let first = plan_with(&location, CrawlOptions::default()).await;
        std::fs::remove_dir_all(dir.path().join("b")).expect("rm");
        let logged = plan(&location, &CrawlOptions::default(), Some(&first.state))
            .await
            .expect("plan");
        assert_eq!(
            names(&logged),
            vec![
                ("a".to_owned(), Action::Unchanged),
                ("b".to_owned(), Action::Unchanged)
            ]
        );
        assert_eq!(logged.files_read, 0, "nothing new to read");
        let dropped = plan(
            &location,
            &CrawlOptions {
                deleted: DeletedPolicy::Delete,
                ..CrawlOptions::default()
            },
            Some(&first.state),
        )
        .await
        .expect("plan");
        assert_eq!(
            names(&dropped),
            vec![
                ("a".to_owned(), Action::Unchanged),
                ("b".to_owned(), Action::Drop)
            ]
        );
    }
}
