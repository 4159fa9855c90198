//! Cases and their instances: a case runs once, once per format, and/or once per binding mode.

use crate::ctx::{BindingMode, Ctx};
use crate::{Format, Tag};

/// The body of a case.
pub(crate) type CaseFn = fn(&Ctx<'_>) -> anyhow::Result<()>;

/// One conformance case as declared by a suite.
#[derive(Clone, Copy)]
pub(crate) struct Case {
    pub suite: &'static str,
    pub name: &'static str,
    /// Runs once per executable format (id gets a `/<format>` segment).
    pub executable: bool,
    /// Runs with direct references and through a binding table (`/direct`, `/table`).
    pub both: bool,
    pub tags: &'static [Tag],
    pub run: CaseFn,
}

impl Case {
    pub(crate) const fn new(suite: &'static str, name: &'static str, run: CaseFn) -> Case {
        Case {
            suite,
            name,
            executable: false,
            both: false,
            tags: &[],
            run,
        }
    }

    /// The case needs an executable and runs once per format.
    pub(crate) const fn exe(mut self) -> Case {
        self.executable = true;
        self
    }

    /// The case runs with direct buffer references and through binding-table slots.
    pub(crate) const fn both(mut self) -> Case {
        self.both = true;
        self
    }

    /// The case needs these backend capabilities.
    pub(crate) const fn tags(mut self, tags: &'static [Tag]) -> Case {
        self.tags = tags;
        self
    }
}

/// One runnable instance of a case.
pub(crate) struct Instance<'f> {
    pub id: String,
    pub case: Case,
    pub format: Option<&'f Format>,
    pub mode: Option<BindingMode>,
}

impl Instance<'_> {
    /// The tags this instance needs: the case's, plus `indirect` for binding-table runs.
    pub(crate) fn tags(&self) -> Vec<Tag> {
        let mut tags = self.case.tags.to_vec();
        if self.mode == Some(BindingMode::Table) && !tags.contains(&Tag::Indirect) {
            tags.push(Tag::Indirect);
        }
        tags
    }
}

/// Expands cases into instances for `formats`, in declaration order.
pub(crate) fn expand<'f>(cases: &[Case], formats: &[&'f Format]) -> Vec<Instance<'f>> {
    let mut instances = Vec::new();
    for case in cases {
        let case_formats: Vec<Option<&'f Format>> = if case.executable {
            formats.iter().map(|f| Some(*f)).collect()
        } else {
            vec![None]
        };
        let modes: &[Option<BindingMode>] = if case.both {
            &[Some(BindingMode::Direct), Some(BindingMode::Table)]
        } else {
            &[None]
        };
        for format in &case_formats {
            for mode in modes {
                let mut id = format!("{}/{}", case.suite, case.name);
                if let Some(format) = format {
                    id.push('/');
                    id.push_str(format.name);
                }
                if let Some(mode) = mode {
                    id.push('/');
                    id.push_str(mode.name());
                }
                instances.push(Instance {
                    id,
                    case: *case,
                    format: *format,
                    mode: *mode,
                });
            }
        }
    }
    instances
}
