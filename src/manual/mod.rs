//! What the field specs say, written for people and editors: the manual's
//! field tables and the JSON Schemas of the three file formats. Both are
//! generated from the specs the validator checks files against, so neither
//! can say something the validator does not.

mod schema;
mod tables;

pub use schema::schema;
pub use tables::{document_fields, fields_table, kind_fields};

use crate::kinds::FieldSpec;

/// The files a project is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    Unit,
    Environment,
    Pipeline,
}

impl Document {
    pub const ALL: [Document; 3] = [Document::Unit, Document::Environment, Document::Pipeline];

    pub fn name(self) -> &'static str {
        match self {
            Document::Unit => "unit",
            Document::Environment => "environment",
            Document::Pipeline => "pipeline",
        }
    }

    pub fn from_name(name: &str) -> Option<Document> {
        Document::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Where the file lives in a project.
    pub fn path(self) -> &'static str {
        match self {
            Document::Unit => "specs/<unit>/unit.yaml",
            Document::Environment => "environments/<env>.yaml",
            Document::Pipeline => "pipeline.yaml",
        }
    }

    /// The file name `driftless schema --out` writes.
    pub fn schema_file(self) -> String {
        format!("{}.schema.json", self.name())
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Document::Unit => crate::spec::unit::FIELDS,
            Document::Environment => crate::spec::environment::FIELDS,
            Document::Pipeline => crate::spec::pipeline::FILE_FIELDS,
        }
    }
}
