//! Reference resolution: spec nodes become resolved values, `${...}` replaced
//! by param values, CloudFormation expressions or upstream outputs.

use crate::diag::{Diagnostic, FileName, closest};
use crate::kinds::{Kind, attribute, pascal};
use crate::spec::reference::{self, Reference, Segment};
use crate::spec::{Project, Unit};
use crate::value::{DynType, Origin, RValue, Resolved};
use crate::yaml::{Node, Value};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Where a cross-stack parameter's value comes from: an output of another unit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Upstream {
    pub unit: String,
    pub output: String,
}

/// The name of the stack output (and downstream parameter) carrying `unit.output`.
pub fn output_id(unit: &str, output: &str) -> String {
    pascal(unit) + &pascal(output)
}

/// What a unit's references can see.
pub struct Scope<'a> {
    pub project: &'a Project,
    pub unit: &'a Unit,
    /// Param values: the environment's, the defaults, or placeholders.
    pub params: &'a BTreeMap<String, Resolved>,
    /// Resources of the unit: name -> (kind, logical id).
    pub siblings: &'a BTreeMap<String, (Kind, String)>,
    /// Unit -> stack it is deployed in; None when checking a unit on its own.
    pub unit_stack: Option<&'a BTreeMap<String, String>>,
    /// Resolved outputs of the units resolved so far.
    pub outputs: &'a BTreeMap<(String, String), Resolved>,
}

/// Resolves nodes within one scope, collecting errors and what was referenced.
pub struct Resolver<'a> {
    pub scope: Scope<'a>,
    pub errors: Vec<Diagnostic>,
    /// Parameters the unit's stack needs: parameter name -> upstream output.
    pub stack_params: BTreeMap<String, Upstream>,
    /// Resources of the unit referenced by what was resolved.
    pub sibling_refs: BTreeSet<String>,
    /// The file being resolved when it is not the unit's own (a definition).
    file_override: Option<FileName>,
}

impl<'a> Resolver<'a> {
    pub fn new(scope: Scope<'a>) -> Self {
        Resolver {
            scope,
            errors: Vec::new(),
            stack_params: BTreeMap::new(),
            sibling_refs: BTreeSet::new(),
            file_override: None,
        }
    }

    fn file(&self) -> &FileName {
        self.file_override.as_ref().unwrap_or(&self.scope.unit.file)
    }

    /// Resolves a node read from another file of the unit, its problems and
    /// origins pointing into that file.
    pub fn resolve_in(&mut self, file: &FileName, node: &Node) -> Resolved {
        self.file_override = Some(file.clone());
        let resolved = self.resolve(node);
        self.file_override = None;
        resolved
    }

    fn origin(&self, node: &Node) -> Origin {
        Origin {
            file: self.file().clone(),
            span: node.span,
        }
    }

    fn placeholder(&self, node: &Node) -> Resolved {
        Resolved::new(
            self.origin(node),
            RValue::Dynamic(json!(null), DynType::Placeholder),
        )
    }

    fn error(&mut self, node: &Node, message: String, help: impl Into<String>) -> Resolved {
        self.errors
            .push(Diagnostic::new(self.file(), node.span, message).with_help(help));
        self.placeholder(node)
    }

    pub fn resolve(&mut self, node: &Node) -> Resolved {
        let origin = self.origin(node);
        let value = match &node.value {
            Value::Null => RValue::Null,
            Value::Bool(b) => RValue::Bool(*b),
            Value::Int(i) => RValue::Int(*i),
            Value::Float(f) => RValue::Num(*f),
            Value::Str(s) => return self.resolve_string(node, s),
            Value::Seq(items) => RValue::List(items.iter().map(|n| self.resolve(n)).collect()),
            Value::Map(entries) => RValue::Map(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.key_span, self.resolve(&e.value)))
                    .collect(),
            ),
        };
        Resolved::new(origin, value).written(node.written.clone())
    }

    fn resolve_string(&mut self, node: &Node, text: &str) -> Resolved {
        let segments = match reference::parse(text) {
            Ok(segments) => segments,
            Err(m) => return self.error(node, m.message, m.help),
        };
        if let [Segment::Ref(r)] = segments.as_slice() {
            return self.resolve_reference(node, r);
        }
        let parts: Vec<Resolved> = segments
            .iter()
            .map(|s| match s {
                Segment::Text(t) => Resolved::new(self.origin(node), RValue::Str(t.clone())),
                Segment::Ref(r) => self.resolve_reference(node, r),
            })
            .collect();
        let origin = self.origin(node);
        if parts
            .iter()
            .any(|p| matches!(p.value, RValue::Dynamic(_, DynType::Placeholder)))
        {
            return Resolved::new(origin, RValue::Dynamic(json!(null), DynType::Placeholder));
        }
        if parts.iter().all(Resolved::is_static) {
            let mut joined = String::new();
            for p in &parts {
                match &p.value {
                    RValue::Str(s) => joined.push_str(s),
                    RValue::Int(i) => joined.push_str(&i.to_string()),
                    RValue::Num(n) => joined.push_str(&n.to_string()),
                    RValue::Bool(b) => joined.push_str(&b.to_string()),
                    _ => {
                        return self.error(
                            node,
                            format!("{} cannot be written inside a string", p.type_name()),
                            "reference a single value here, or write the whole field as the reference",
                        );
                    }
                }
            }
            return Resolved::new(origin, RValue::Str(joined));
        }
        let pieces: Vec<serde_json::Value> = parts.iter().map(Resolved::to_string_json).collect();
        Resolved::new(
            origin,
            RValue::Dynamic(json!({ "Fn::Join": ["", pieces] }), DynType::Str),
        )
    }

    fn resolve_reference(&mut self, node: &Node, r: &Reference) -> Resolved {
        match r {
            Reference::Name(name) => self.resolve_param(node, name),
            Reference::Dotted(first, second) => {
                if let Some((kind, logical_id)) = self.scope.siblings.get(first).cloned() {
                    self.sibling_refs.insert(first.clone());
                    return match attribute(kind, &logical_id, second) {
                        Some((expr, ty)) => {
                            Resolved::new(self.origin(node), RValue::Dynamic(expr, ty))
                        }
                        None => {
                            let names = kind.attribute_names();
                            let help = match closest(second, names.iter().copied()) {
                                Some(best) => format!("did you mean `${{{first}.{best}}}`?"),
                                None => {
                                    format!("attributes of a {}: {}", kind.name(), names.join(", "))
                                }
                            };
                            self.error(
                                node,
                                format!("`{r}`: a {} has no attribute `{second}`", kind.name()),
                                help,
                            )
                        }
                    };
                }
                self.resolve_output(node, r, first, second)
            }
            Reference::Env(_) => self.error(
                node,
                format!("`{r}`: environment variables cannot be read in a unit"),
                "pass the value as a param from the environment file",
            ),
            Reference::Pseudo(name) => Resolved::new(
                self.origin(node),
                RValue::Dynamic(json!({ "Ref": format!("AWS::{name}") }), DynType::Str),
            ),
        }
    }

    fn resolve_param(&mut self, node: &Node, name: &str) -> Resolved {
        if let Some(value) = self.scope.params.get(name) {
            return value.clone();
        }
        if self.scope.unit.param(name).is_some() {
            // A declared param without a value: already reported where the value is missing.
            return self.placeholder(node);
        }
        if let Some((kind, _)) = self.scope.siblings.get(name) {
            let attrs = kind.attribute_names().join(", ");
            return self.error(
                node,
                format!("`${{{name}}}` names a resource, not a param"),
                format!(
                    "write `${{{name}.<attribute>}}`; attributes of a {}: {attrs}",
                    kind.name()
                ),
            );
        }
        let params: Vec<&str> = self
            .scope
            .unit
            .params
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let help = match closest(name, params.iter().copied()) {
            Some(best) => format!("did you mean `${{{best}}}`?"),
            None if params.is_empty() => format!(
                "declare it under `params:` of unit `{}`",
                self.scope.unit.name
            ),
            None => format!(
                "params of unit `{}`: {}",
                self.scope.unit.name,
                params.join(", ")
            ),
        };
        self.error(node, format!("unknown param `${{{name}}}`"), help)
    }

    fn resolve_output(
        &mut self,
        node: &Node,
        r: &Reference,
        unit_name: &str,
        output: &str,
    ) -> Resolved {
        let project = self.scope.project;
        if project.broken.contains(unit_name) {
            return self.placeholder(node);
        }
        let Some(upstream) = project.units.get(unit_name) else {
            let candidates: Vec<&str> = self
                .scope
                .siblings
                .keys()
                .map(String::as_str)
                .chain(project.units.keys().map(String::as_str))
                .collect();
            let help = closest(unit_name, candidates.iter().copied()).map_or_else(
                || "a reference names a resource of this unit or another unit".to_string(),
                |best| format!("did you mean `{best}`?"),
            );
            return self.error(
                node,
                format!("unknown reference `{r}`: `{unit_name}` is neither a resource of this unit nor a unit"),
                help,
            );
        };
        if upstream.name == self.scope.unit.name {
            return self.error(
                node,
                format!("`{r}`: a unit cannot read its own outputs"),
                "reference the resource attribute the output is made of",
            );
        }
        if let Some((message, help)) = missing_output(upstream, output) {
            return self.error(node, message, help);
        }
        let Some(unit_stack) = self.scope.unit_stack else {
            return self.placeholder(node);
        };
        let (Some(from_stack), Some(here_stack)) = (
            unit_stack.get(unit_name),
            unit_stack.get(&self.scope.unit.name),
        ) else {
            return self.error(
                node,
                format!("`{r}` reads unit `{unit_name}`, which this environment does not deploy"),
                format!("add `{unit_name}` to a stack under `stacks:`"),
            );
        };
        let key = (unit_name.to_string(), output.to_string());
        let Some(value) = self.scope.outputs.get(&key) else {
            // The upstream failed to resolve; its errors are already reported.
            return self.placeholder(node);
        };
        if value.is_static() || from_stack == here_stack {
            return value.clone();
        }
        let param = output_id(unit_name, output);
        self.stack_params.insert(
            param.clone(),
            Upstream {
                unit: unit_name.to_string(),
                output: output.to_string(),
            },
        );
        Resolved::new(
            self.origin(node),
            RValue::Dynamic(json!({ "Ref": param }), DynType::Str),
        )
    }
}

/// When `unit` has no output `output`: the message, and help naming the closest or all outputs.
pub fn missing_output(unit: &Unit, output: &str) -> Option<(String, String)> {
    if unit.output(output).is_some() {
        return None;
    }
    let unit_name = &unit.name;
    let names: Vec<&str> = unit.outputs.iter().map(|o| o.name.as_str()).collect();
    let help = match closest(output, names.iter().copied()) {
        Some(best) => format!("did you mean `${{{unit_name}.{best}}}`?"),
        None if names.is_empty() => format!("unit `{unit_name}` has no outputs"),
        None => format!("outputs of unit `{unit_name}`: {}", names.join(", ")),
    };
    Some((format!("unit `{unit_name}` has no output `{output}`"), help))
}

/// Every `${unit.output}` a unit makes to another unit, with the node it is in.
pub fn unit_references<'u>(project: &Project, unit: &'u Unit) -> Vec<(String, &'u Node)> {
    let mut refs = Vec::new();
    let mut visit = |node: &'u Node| {
        walk_strings(node, &mut |n, text| {
            for r in reference::references(text) {
                if let Reference::Dotted(first, _) = r
                    && unit.resource(&first).is_none()
                    && project.units.contains_key(&first)
                    && first != unit.name
                {
                    refs.push((first, n));
                }
            }
        });
    };
    for resource in &unit.resources {
        visit(&resource.body);
    }
    for output in &unit.outputs {
        visit(&output.value);
    }
    refs
}

/// Calls `f` on every string node under `node`.
pub fn walk_strings<'n>(node: &'n Node, f: &mut impl FnMut(&'n Node, &'n str)) {
    match &node.value {
        Value::Str(s) => f(node, s),
        Value::Seq(items) => items.iter().for_each(|n| walk_strings(n, f)),
        Value::Map(entries) => entries.iter().for_each(|e| walk_strings(&e.value, f)),
        _ => {}
    }
}
