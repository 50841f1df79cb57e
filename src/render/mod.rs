//! Rendering: an environment's units become one CloudFormation template and
//! parameter list per stack, plus the order in which stacks deploy. Pure and
//! byte-deterministic: the same specs always give the same bytes.

pub mod resolve;
pub mod value;

use crate::diag::{Diagnostic, Diagnostics, FileName, closest};
use crate::graph::{self, Graph};
use crate::kinds::{
    self, ASSET_BUCKET_PARAM, AssetRef, CfnResource, Expansion, Kind, check_fields, pascal,
};
use crate::spec::{Environment, Project, Target, Tier, Unit};
use crate::yaml::{Node, Span};
use resolve::{Resolver, Scope, Upstream, output_id, unit_references};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use value::{DynType, Origin, RValue, Resolved};

/// Where a stack parameter's value comes from at deploy time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ParameterSource {
    /// An output of an earlier stack.
    Output { stack: String, output: String },
    /// The target's asset bucket.
    AssetBucket,
    /// A secret from the deploying process's environment; a NoEcho parameter
    /// whose value is never shown or written.
    Env { var: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackParameter {
    pub name: String,
    #[serde(flatten)]
    pub source: ParameterSource,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceSummary {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub unit: String,
    pub resource: String,
    pub retain: bool,
}

/// Stack outputs that carry a function's physical name start with this; they
/// are for driftless itself and hidden from `outputs`.
pub const FUNCTION_OUTPUT_PREFIX: &str = "DriftlessFunction";

/// A function's settings that CloudFormation may not hold on every target:
/// the deployer reads them from Lambda after apply and on every pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionSettings {
    pub logical_id: String,
    /// The stack output holding the function's physical name.
    pub output: String,
    pub reserved_concurrency: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct RenderedStack {
    /// The key in the environment's `stacks:` (`stateful`).
    pub key: String,
    /// The CloudFormation stack name (`user-management-dev-stateful`).
    pub name: String,
    pub tier: Tier,
    pub units: Vec<String>,
    pub parameters: Vec<StackParameter>,
    pub resources: Vec<ResourceSummary>,
    pub outputs: Vec<String>,
    /// Stack names whose outputs feed this one.
    pub depends_on: Vec<String>,
    /// The Lambda functions, with the settings checked against the live function.
    pub functions: Vec<FunctionSettings>,
    /// The template, as deployed.
    pub template: String,
    /// BLAKE3 over the template and the parameter sources.
    pub hash: String,
}

#[derive(Clone, Debug)]
pub struct RenderedEnvironment {
    pub environment: String,
    pub app: String,
    pub target: Target,
    pub stacks: Vec<RenderedStack>,
    /// Stack names by wave: every stateful stack before any stateless one.
    pub waves: Vec<Vec<String>>,
    /// Termination protection on stateful stacks, no destroy.
    pub protect: bool,
    /// Watch passes may update function code and configuration through
    /// Lambda, skipping CloudFormation.
    pub hotswap: bool,
    /// Checks run after every pass that converged.
    pub smoke: Vec<crate::spec::smoke::SmokeCheck>,
    /// Put the changed stacks back when a check fails.
    pub rollback: bool,
}

impl RenderedEnvironment {
    pub fn stack(&self, name: &str) -> Option<&RenderedStack> {
        self.stacks.iter().find(|s| s.name == name)
    }
}

/// One unit, resolved and expanded.
struct RenderedUnit {
    resources: Vec<(String, CfnResource)>,
    outputs: Vec<(String, Resolved)>,
    stack_params: BTreeMap<String, Upstream>,
}

fn sibling_map(unit: &Unit) -> BTreeMap<String, (Kind, String)> {
    unit.resources
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                (r.kind, pascal(&unit.name) + &pascal(&r.name)),
            )
        })
        .collect()
}

/// How a secret param gets its value: never as plain text in a file.
enum SecretValue {
    /// `${env:NAME}`: read when deploying, passed as a NoEcho parameter.
    Env(String),
    /// `{{resolve:secretsmanager:...}}` or `{{resolve:ssm-secure:...}}`:
    /// CloudFormation resolves it; the reference itself is no secret.
    Dynamic,
    PlainText,
}

fn secret_value(node: &Node) -> SecretValue {
    let Some(text) = node.as_str() else {
        return SecretValue::PlainText;
    };
    if let Ok(segments) = crate::spec::reference::parse(text)
        && let [crate::spec::reference::Segment::Ref(crate::spec::reference::Reference::Env(var))] =
            segments.as_slice()
    {
        return SecretValue::Env(var.clone());
    }
    let dynamic = [
        "{{resolve:secretsmanager:",
        "{{resolve:ssm-secure:",
        "{{resolve:ssm:",
    ];
    if dynamic.iter().any(|p| text.starts_with(p)) && text.ends_with("}}") {
        return SecretValue::Dynamic;
    }
    SecretValue::PlainText
}

/// The stack parameter carrying a secret param read from the environment.
fn secret_parameter(unit: &str, param: &str) -> String {
    format!("Secret{}{}", pascal(unit), pascal(param))
}

fn literal(file: &FileName, node: &Node) -> Resolved {
    let origin = Origin {
        file: file.clone(),
        span: node.span,
    };
    let value = match &node.value {
        crate::yaml::Value::Bool(b) => RValue::Bool(*b),
        crate::yaml::Value::Int(i) => RValue::Int(*i),
        crate::yaml::Value::Float(f) => RValue::Num(*f),
        crate::yaml::Value::Str(s) => RValue::Str(s.clone()),
        _ => RValue::Null,
    };
    Resolved::new(origin, value)
}

/// Resolves the resources and outputs of one unit; expands kinds unless only checking.
fn render_unit(
    scope: Scope<'_>,
    expand: bool,
    assets: &BTreeMap<(String, String), AssetRef>,
    diags: &mut Diagnostics,
) -> RenderedUnit {
    let unit = scope.unit;
    let siblings = scope.siblings;
    let mut resolver = Resolver::new(scope);
    let mut rendered = RenderedUnit {
        resources: Vec::new(),
        outputs: Vec::new(),
        stack_params: BTreeMap::new(),
    };
    let mut resource_graph = Graph::new();
    for resource in &unit.resources {
        resolver.sibling_refs.clear();
        let fields = resolver.resolve(&resource.body);
        resource_graph.insert(resource.name.clone(), resolver.sibling_refs.clone());
        let mut errors = Vec::new();
        let what = format!("resource `{}`", resource.name);
        check_fields(resource.kind.fields(), &fields, &what, &mut errors);
        if resource.kind == Kind::Raw {
            for dep in fields
                .get("depends_on")
                .map(Resolved::list)
                .unwrap_or_default()
            {
                let Some(name) = dep.str() else { continue };
                if siblings.contains_key(name) {
                    resource_graph
                        .entry(resource.name.clone())
                        .or_default()
                        .insert(name.to_string());
                } else {
                    errors.push(
                        Diagnostic::new(
                            &dep.origin.file,
                            dep.origin.span,
                            format!(
                                "`depends_on` names `{name}`, which is not a resource of this unit"
                            ),
                        )
                        .suggest_among(
                            name,
                            siblings.keys().map(String::as_str),
                            "resources of this unit",
                        ),
                    );
                }
            }
        }
        if !errors.is_empty() || !expand {
            errors.into_iter().for_each(|d| diags.push(d));
            continue;
        }
        let logical_id = siblings
            .get(&resource.name)
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        let stateful = unit.tier == Tier::Stateful || resource.kind.holds_data();
        let expansion = Expansion {
            unit: &unit.name,
            resource: &resource.name,
            logical_id,
            stateful,
            fields: &fields,
            asset: assets.get(&(unit.name.clone(), resource.name.clone())),
            siblings,
        };
        match kinds::expand(resource.kind, &expansion) {
            Ok(resources) => rendered
                .resources
                .extend(resources.into_iter().map(|r| (resource.name.clone(), r))),
            Err(errors) => errors.into_iter().for_each(|d| diags.push(d)),
        }
    }
    if let Some(cycle) = graph::find_cycle(&resource_graph) {
        let span = cycle
            .first()
            .and_then(|name| unit.resource(name))
            .map(|r| r.span)
            .unwrap_or_default();
        let path: Vec<String> = cycle.iter().map(|r| format!("{}.{r}", unit.name)).collect();
        diags.push(
            Diagnostic::new(
                &unit.file,
                span,
                format!("reference cycle: {}", path.join(" -> ")),
            )
            .with_help(
                "CloudFormation cannot create resources that need each other; break one reference",
            ),
        );
    }
    for output in &unit.outputs {
        let value = resolver.resolve(&output.value);
        rendered.outputs.push((output.name.clone(), value));
    }
    resolver.errors.drain(..).for_each(|d| diags.push(d));
    rendered.stack_params = std::mem::take(&mut resolver.stack_params);
    rendered
}

/// Checks a unit on its own, outside any environment: params without a value
/// stand in as placeholders, kinds are checked but not expanded.
pub fn check_unit(project: &Project, unit: &Unit) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let params: BTreeMap<String, Resolved> = unit
        .params
        .iter()
        .map(|p| {
            let value = match &p.default {
                Some(default) => literal(&unit.file, default),
                None => Resolved::new(
                    Origin {
                        file: unit.file.clone(),
                        span: p.span,
                    },
                    RValue::Dynamic(Json::Null, DynType::Placeholder),
                ),
            };
            (p.name.clone(), value)
        })
        .collect();
    let siblings = sibling_map(unit);
    let outputs = BTreeMap::new();
    let scope = Scope {
        project,
        unit,
        params: &params,
        siblings: &siblings,
        unit_stack: None,
        outputs: &outputs,
    };
    render_unit(scope, false, &BTreeMap::new(), &mut diags);
    diags
}

/// Where unit `a` first reads unit `b`, by (a, b).
pub type FirstReferences = BTreeMap<(String, String), (FileName, Span)>;

/// The graph of units reading each other's outputs, with where each first reference is.
pub fn unit_graph<'p>(
    project: &'p Project,
    units: impl Iterator<Item = &'p Unit>,
) -> (Graph, FirstReferences) {
    let mut graph = Graph::new();
    let mut first_ref = BTreeMap::new();
    for unit in units {
        let edges = graph.entry(unit.name.clone()).or_default();
        for (to, node) in unit_references(project, unit) {
            edges.insert(to.clone());
            first_ref
                .entry((unit.name.clone(), to))
                .or_insert((unit.file.clone(), node.span));
        }
    }
    (graph, first_ref)
}

/// Reports every stateful unit that reads a stateless unit: it would invert the deploy order.
pub fn report_tier_inversions(
    project: &Project,
    graph: &Graph,
    first_ref: &FirstReferences,
    diags: &mut Diagnostics,
) {
    for (from, tos) in graph {
        for to in tos {
            let (Some(a), Some(b)) = (project.units.get(from), project.units.get(to)) else {
                continue;
            };
            if a.tier != Tier::Stateful || b.tier != Tier::Stateless {
                continue;
            }
            if let Some((file, span)) = first_ref.get(&(from.clone(), to.clone())) {
                diags.push(
                    Diagnostic::new(file, *span, format!("stateful unit `{from}` depends on stateless unit `{to}`"))
                        .with_help("stateful units deploy first; move the value into a stateful unit or make this unit stateless"),
                );
            }
        }
    }
}

/// Reports a unit reference cycle, if any, at the first reference of the cycle.
pub fn report_unit_cycle(
    graph: &Graph,
    first_ref: &FirstReferences,
    diags: &mut Diagnostics,
) -> bool {
    let Some(cycle) = graph::find_cycle(graph) else {
        return false;
    };
    let (file, span) = match cycle.as_slice() {
        [a, b, ..] => first_ref.get(&(a.clone(), b.clone())).cloned(),
        _ => None,
    }
    .unwrap_or_else(|| (FileName::from("specs"), Span::default()));
    diags.push(
        Diagnostic::new(&file, span, format!("reference cycle: {}", cycle.join(" -> ")))
            .with_help("units cannot read each other's outputs both ways; move the shared resource into one unit"),
    );
    true
}

/// Help naming the units there are, for a unit name that is not one of them.
fn units_in_specs(project: &Project) -> String {
    if project.units.is_empty() {
        return "there are no units yet; add specs/<unit>/unit.yaml".to_string();
    }
    format!(
        "units in specs/: {}",
        crate::diag::listed(project.units.keys().map(String::as_str))
    )
}

/// Smoke checks may read outputs of deployed units, and `${env:NAME}` in headers.
fn check_smoke(project: &Project, env: &Environment, diags: &mut Diagnostics) {
    use crate::spec::reference::{self, Reference};
    for check in &env.smoke {
        for (node, env_allowed) in check.reference_nodes() {
            resolve::walk_strings(node, &mut |n, text| {
                let refs = match reference::parse(text) {
                    Ok(segments) => segments.into_iter().filter_map(|s| match s {
                        reference::Segment::Ref(r) => Some(r),
                        reference::Segment::Text(_) => None,
                    }),
                    Err(m) => {
                        diags.push(Diagnostic::new(&env.file, n.span, m.message).with_help(m.help));
                        return;
                    }
                };
                for r in refs.collect::<Vec<_>>() {
                    let problem = match &r {
                        Reference::Env(_) if env_allowed => None,
                        Reference::Env(_) => Some((
                            format!(
                                "`{r}`: environment variables are read only in smoke check headers"
                            ),
                            "write the value itself here, or send it in a header".to_string(),
                        )),
                        Reference::Name(_) => Some((
                            format!("`{r}`: a smoke check reads unit outputs"),
                            "write `${unit.output}`, for example `${api.endpoint}`".to_string(),
                        )),
                        Reference::Dotted(unit_name, output) => {
                            match project.units.get(unit_name) {
                                _ if project.broken.contains(unit_name) => None,
                                None => Some((
                                    format!(
                                        "smoke check `{}` reads `{r}`, but there is no unit `{unit_name}`",
                                        check.name
                                    ),
                                    closest(unit_name, project.units.keys().map(String::as_str))
                                        .map_or_else(
                                            || units_in_specs(project),
                                            |best| format!("did you mean `{best}`?"),
                                        ),
                                )),
                                Some(_) if !env.deploys(unit_name) => Some((
                                    format!(
                                        "smoke check `{}` reads `{r}`, but this environment does not deploy `{unit_name}`",
                                        check.name
                                    ),
                                    format!("add `{unit_name}` to a stack under `stacks:`"),
                                )),
                                Some(unit) => resolve::missing_output(unit, output),
                            }
                        }
                    };
                    if let Some((message, help)) = problem {
                        diags.push(Diagnostic::new(&env.file, n.span, message).with_help(help));
                    }
                }
            });
        }
    }
}

/// The layout: which stack each deployed unit is in.
fn layout(
    project: &Project,
    env: &Environment,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let mut unit_stack = BTreeMap::new();
    for stack in &env.stacks {
        for (unit, span) in &stack.units {
            if project.units.contains_key(unit) {
                unit_stack.insert(unit.clone(), stack.name.clone());
            } else if !project.broken.contains(unit) {
                diags.push(
                    Diagnostic::new(
                        &env.file,
                        *span,
                        format!(
                            "stack `{}` lists unit `{unit}`, which is not in specs/",
                            stack.name
                        ),
                    )
                    .suggest_or(
                        unit,
                        project.units.keys().map(String::as_str),
                        units_in_specs(project),
                    ),
                );
            }
        }
    }
    unit_stack
}

/// The value of every param of every deployed unit, checked.
fn param_values(
    project: &Project,
    env: &Environment,
    diags: &mut Diagnostics,
) -> BTreeMap<String, BTreeMap<String, Resolved>> {
    for given in &env.params {
        if project.broken.contains(&given.unit) {
            continue;
        }
        let Some(unit) = project.units.get(&given.unit) else {
            diags.push(
                Diagnostic::new(
                    &env.file,
                    given.span,
                    format!("params for unit `{}`, which is not in specs/", given.unit),
                )
                .suggest_or(
                    &given.unit,
                    project.units.keys().map(String::as_str),
                    units_in_specs(project),
                ),
            );
            continue;
        };
        if !env.deploys(&unit.name) {
            diags.push(
                Diagnostic::new(
                    &env.file,
                    given.span,
                    format!(
                        "params for unit `{}`, which no stack of this environment deploys",
                        unit.name
                    ),
                )
                .with_help(format!(
                    "add `{}` to a stack under `stacks:` or remove its params",
                    unit.name
                )),
            );
        }
        for entry in &given.values {
            match unit.param(&entry.key) {
                None => {
                    let names: Vec<&str> = unit.params.iter().map(|p| p.name.as_str()).collect();
                    let d = Diagnostic::new(
                        &env.file,
                        entry.key_span,
                        format!("unit `{}` has no param `{}`", unit.name, entry.key),
                    );
                    diags.push(match closest(&entry.key, names.iter().copied()) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None if names.is_empty() => {
                            d.with_help(format!("unit `{}` declares no params", unit.name))
                        }
                        None => {
                            d.with_help(format!("params of `{}`: {}", unit.name, names.join(", ")))
                        }
                    });
                }
                Some(param) if param.secret => {
                    if let SecretValue::PlainText = secret_value(&entry.value) {
                        diags.push(
                            Diagnostic::new(
                                &env.file,
                                entry.value.span,
                                format!(
                                    "param `{}` of unit `{}` is secret: its value must not be written in a file",
                                    param.name, unit.name
                                ),
                            )
                            .with_help(
                                "write `${env:NAME}` to read it from the deploying process, or a `{{resolve:secretsmanager:ID}}` or `{{resolve:ssm-secure:NAME}}` reference",
                            ),
                        );
                    }
                }
                Some(param) => {
                    if let Err((message, help)) = param.check(&entry.value) {
                        diags.push(
                            Diagnostic::new(&env.file, entry.value.span, message).with_help(help),
                        );
                    }
                }
            }
        }
    }
    let mut values = BTreeMap::new();
    for stack in &env.stacks {
        for (unit_name, unit_span) in &stack.units {
            let Some(unit) = project.units.get(unit_name) else {
                continue;
            };
            let given = env.params_of(unit_name);
            let mut unit_values = BTreeMap::new();
            for param in &unit.params {
                let entry = given.and_then(|g| g.values.iter().find(|e| e.key == param.name));
                if entry.is_some_and(|e| !param.secret && param.check(&e.value).is_err()) {
                    // Reported above, where the value is written; what reads the
                    // param gets a placeholder instead of a second report.
                    continue;
                }
                let value = entry
                    .map(|e| match secret_value(&e.value) {
                        SecretValue::Env(_) if param.secret => Resolved::new(
                            Origin {
                                file: env.file.clone(),
                                span: e.value.span,
                            },
                            RValue::Dynamic(
                                json!({ "Ref": secret_parameter(unit_name, &param.name) }),
                                DynType::Str,
                            ),
                        ),
                        _ => literal(&env.file, &e.value),
                    })
                    .or_else(|| param.default.as_ref().map(|d| literal(&unit.file, d)));
                match value {
                    Some(v) => {
                        unit_values.insert(param.name.clone(), v);
                    }
                    None => diags.push(
                        Diagnostic::new(
                            &env.file,
                            given.map_or(*unit_span, |g| g.span),
                            format!(
                                "unit `{unit_name}` needs a value for param `{}` ({})",
                                param.name,
                                param.ty.name()
                            ),
                        )
                        .with_help(format!(
                            "add it under `params: {{ {unit_name}: {{ {}: ... }} }}`",
                            param.name
                        )),
                    ),
                }
            }
            values.insert(unit_name.clone(), unit_values);
        }
    }
    values
}

/// Renders an environment. Every problem found is returned at once.
pub fn render(
    project: &Project,
    env: &Environment,
    assets: &BTreeMap<(String, String), AssetRef>,
) -> Result<RenderedEnvironment, Diagnostics> {
    let mut diags = Diagnostics::default();
    let unit_stack = layout(project, env, &mut diags);
    let params = param_values(project, env, &mut diags);
    let deployed: BTreeSet<String> = unit_stack.keys().cloned().collect();
    let (unit_graph, first_ref) = unit_graph(
        project,
        deployed.iter().filter_map(|u| project.units.get(u)),
    );
    report_tier_inversions(project, &unit_graph, &first_ref, &mut diags);
    check_smoke(project, env, &mut diags);
    if report_unit_cycle(&unit_graph, &first_ref, &mut diags) {
        return Err(diags);
    }

    let mut outputs: BTreeMap<(String, String), Resolved> = BTreeMap::new();
    let mut rendered: BTreeMap<String, RenderedUnit> = BTreeMap::new();
    let empty = BTreeMap::new();
    for unit_name in graph::topological(&deployed, &unit_graph) {
        let Some(unit) = project.units.get(&unit_name) else {
            continue;
        };
        let siblings = sibling_map(unit);
        let scope = Scope {
            project,
            unit,
            params: params.get(&unit_name).unwrap_or(&empty),
            siblings: &siblings,
            unit_stack: Some(&unit_stack),
            outputs: &outputs,
        };
        let result = render_unit(scope, true, assets, &mut diags);
        for (name, value) in &result.outputs {
            outputs.insert((unit_name.clone(), name.clone()), value.clone());
        }
        rendered.insert(unit_name, result);
    }

    let assembled: Vec<(RenderedStack, Json)> = env
        .stacks
        .iter()
        .map(|stack| assemble_stack(project, env, stack, &mut rendered, &unit_stack, &mut diags))
        .collect();
    // Serializing and hashing the templates is the bulk of the work: per stack, in parallel.
    let stacks = crate::par::map(assembled, |(mut stack, template)| {
        stack.template = serde_json::to_string_pretty(&template).unwrap_or_default() + "\n";
        stack.hash = desired_hash(&stack.template, &stack.parameters);
        stack
    });
    let waves = waves(env, &stacks, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(RenderedEnvironment {
        environment: env.name.clone(),
        app: env.app.clone(),
        target: env.target.clone(),
        stacks,
        waves,
        protect: env.protect,
        hotswap: env.hotswap,
        smoke: env.smoke.clone(),
        rollback: env.rollback,
    })
}

fn assemble_stack(
    project: &Project,
    env: &Environment,
    stack: &crate::spec::StackDef,
    rendered: &mut BTreeMap<String, RenderedUnit>,
    unit_stack: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> (RenderedStack, Json) {
    let name = env.stack_name(&stack.name);
    let units: Vec<String> = stack
        .units
        .iter()
        .map(|(u, _)| u.clone())
        .filter(|u| rendered.contains_key(u))
        .collect();
    let tier = if units.iter().any(|u| {
        project
            .units
            .get(u)
            .is_some_and(|u| u.tier == Tier::Stateful)
    }) {
        Tier::Stateful
    } else {
        Tier::Stateless
    };
    let mut resources = Map::new();
    let mut summaries = Vec::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut parameters: BTreeMap<String, ParameterSource> = BTreeMap::new();
    let mut outputs = Map::new();
    let mut depends_on = BTreeSet::new();
    let mut functions = Vec::new();
    for unit_name in &units {
        // Each unit is in one stack: its rendering moves into the template.
        let Some(unit) = rendered.remove(unit_name) else {
            continue;
        };
        for (resource_name, resource) in unit.resources {
            let owner = format!("{unit_name}.{resource_name}");
            if let Some(other) = owners.insert(resource.logical_id.clone(), owner.clone())
                && other != owner
            {
                let span = project
                    .units
                    .get(unit_name)
                    .and_then(|u| u.resource(&resource_name))
                    .map(|r| r.span)
                    .unwrap_or_default();
                let file = project
                    .units
                    .get(unit_name)
                    .map(|u| u.file.clone())
                    .unwrap_or_else(|| env.file.clone());
                diags.push(
                    Diagnostic::new(
                        &file,
                        span,
                        format!(
                            "`{owner}` and `{other}` both render as `{}` in stack `{name}`",
                            resource.logical_id
                        ),
                    )
                    .with_help("rename one of the resources"),
                );
            }
            if resource.properties.contains_key("Code")
                || resource.properties.contains_key("Content")
            {
                parameters.insert(ASSET_BUCKET_PARAM.to_string(), ParameterSource::AssetBucket);
            }
            if resource.type_name == "AWS::Lambda::Function" {
                let output = format!("{FUNCTION_OUTPUT_PREFIX}{}", resource.logical_id);
                outputs.insert(
                    output.clone(),
                    json!({ "Description": format!("physical name of {}", resource.logical_id), "Value": { "Ref": resource.logical_id } }),
                );
                functions.push(FunctionSettings {
                    logical_id: resource.logical_id.clone(),
                    output,
                    reserved_concurrency: resource
                        .properties
                        .get("ReservedConcurrentExecutions")
                        .and_then(Json::as_i64),
                });
            }
            summaries.push(ResourceSummary {
                logical_id: resource.logical_id.clone(),
                type_name: resource.type_name.clone(),
                unit: unit_name.clone(),
                resource: resource_name,
                retain: resource.retain,
            });
            resources.insert(resource.logical_id.clone(), resource.into_json());
        }
        if let Some(spec) = project.units.get(unit_name) {
            let given = env.params_of(unit_name);
            for param in spec.params.iter().filter(|p| p.secret) {
                let value = given.and_then(|g| g.values.iter().find(|e| e.key == param.name));
                if let Some(SecretValue::Env(var)) = value.map(|e| secret_value(&e.value)) {
                    parameters.insert(
                        secret_parameter(unit_name, &param.name),
                        ParameterSource::Env { var },
                    );
                }
            }
        }
        for (param, upstream) in &unit.stack_params {
            let from = unit_stack
                .get(&upstream.unit)
                .map(|s| env.stack_name(s))
                .unwrap_or_default();
            depends_on.insert(from.clone());
            parameters.insert(
                param.clone(),
                ParameterSource::Output {
                    stack: from,
                    output: param.clone(),
                },
            );
        }
        for (output, value) in &unit.outputs {
            outputs.insert(
                output_id(unit_name, output),
                json!({ "Description": format!("{unit_name}.{output}"), "Value": value.to_string_json() }),
            );
        }
    }
    let template_params: Map<String, Json> = parameters
        .iter()
        .map(|(p, source)| {
            let description = match source {
                ParameterSource::Output { stack, output } => {
                    format!("output {output} of stack {stack}")
                }
                ParameterSource::AssetBucket => "bucket holding the code assets".to_string(),
                ParameterSource::Env { var } => {
                    return (
                        p.clone(),
                        json!({ "Type": "String", "NoEcho": true, "Description": format!("secret, from the environment variable {var} of the deploying process") }),
                    );
                }
            };
            (
                p.clone(),
                json!({ "Type": "String", "Description": description }),
            )
        })
        .collect();
    let output_names: Vec<String> = outputs
        .keys()
        .filter(|k| !k.starts_with(FUNCTION_OUTPUT_PREFIX))
        .cloned()
        .collect();
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    template.insert(
        "Description".into(),
        json!(format!(
            "{} {}: stack {} ({}), rendered by driftless",
            env.app,
            env.name,
            stack.name,
            units.join(", ")
        )),
    );
    template.insert(
        "Metadata".into(),
        json!({ "driftless": { "app": env.app, "environment": env.name, "stack": stack.name, "units": units, "retained": retained_labels(&summaries) } }),
    );
    if !template_params.is_empty() {
        template.insert("Parameters".into(), Json::Object(template_params));
    }
    template.insert("Resources".into(), Json::Object(resources));
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Json::Object(outputs));
    }
    let parameters: Vec<StackParameter> = parameters
        .into_iter()
        .map(|(name, source)| StackParameter { name, source })
        .collect();
    let stack = RenderedStack {
        key: stack.name.clone(),
        name,
        tier,
        units,
        parameters,
        resources: summaries,
        outputs: output_names,
        depends_on: depends_on.into_iter().collect(),
        functions,
        template: String::new(),
        hash: String::new(),
    };
    (stack, Json::Object(template))
}

/// `logical id -> unit.resource` for the resources a stack retains, kept in
/// the template so that a later pass can name them after a rename or a move.
fn retained_labels(summaries: &[ResourceSummary]) -> Map<String, Json> {
    summaries
        .iter()
        .filter(|r| r.retain)
        .map(|r| {
            (
                r.logical_id.clone(),
                json!(format!("{}.{}", r.unit, r.resource)),
            )
        })
        .collect()
}

/// The desired-state hash of a stack: its template and where its parameters
/// come from. BLAKE3, as it is hashed on every pass and templates are large.
fn desired_hash(template: &str, parameters: &[StackParameter]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(template.as_bytes());
    hasher.update(b"\n");
    hasher.update(
        serde_json::to_string(parameters)
            .unwrap_or_default()
            .as_bytes(),
    );
    hasher.finalize().to_hex().to_string()
}

/// Orders stacks into waves: stateful stacks first, then by what feeds what.
fn waves(env: &Environment, stacks: &[RenderedStack], diags: &mut Diagnostics) -> Vec<Vec<String>> {
    let graph: Graph = stacks
        .iter()
        .map(|s| (s.name.clone(), s.depends_on.iter().cloned().collect()))
        .collect();
    if let Some(cycle) = graph::find_cycle(&graph) {
        diags.push(
            Diagnostic::new(&env.file, env.stacks_span, format!("stack cycle: {}", cycle.join(" -> ")))
                .with_help("units in these stacks read each other's outputs both ways; move units so outputs flow one way"),
        );
        return Vec::new();
    }
    for stack in stacks.iter().filter(|s| s.tier == Tier::Stateful) {
        for dep in &stack.depends_on {
            if stacks
                .iter()
                .any(|s| &s.name == dep && s.tier == Tier::Stateless)
            {
                let span = env
                    .stacks
                    .iter()
                    .find(|s| s.name == stack.key)
                    .map(|s| s.span)
                    .unwrap_or_default();
                diags.push(
                    Diagnostic::new(&env.file, span, format!("stateful stack `{}` reads outputs of stateless stack `{dep}`", stack.name))
                        .with_help("stateful stacks deploy first; move the reading unit into a stateless stack"),
                );
            }
        }
    }
    let mut result = Vec::new();
    for tier in [Tier::Stateful, Tier::Stateless] {
        let nodes: BTreeSet<String> = stacks
            .iter()
            .filter(|s| s.tier == tier)
            .map(|s| s.name.clone())
            .collect();
        result.extend(graph::levels(&nodes, &graph));
    }
    result
}
