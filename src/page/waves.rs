//! An environment's waves as inline SVG: a column per wave (stateful first),
//! a box per stack coloured by its state, an arrow for each stack whose
//! outputs feed another's parameters.

use crate::render::RenderedEnvironment;
use maud::html;

/// How a stack is doing, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackState {
    InSync,
    OutOfSync,
    Drifted,
    Progressing,
    Failed,
    Missing,
}

impl StackState {
    pub fn name(self) -> &'static str {
        match self {
            StackState::InSync => "in sync",
            StackState::OutOfSync => "out of sync",
            StackState::Drifted => "drifted",
            StackState::Progressing => "progressing",
            StackState::Failed => "failed",
            StackState::Missing => "not deployed",
        }
    }

    /// (fill, stroke)
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            StackState::InSync => ("#dff3e4", "#2f8a4c"),
            StackState::OutOfSync => ("#fff1cf", "#b07d00"),
            StackState::Drifted => ("#ffe2c2", "#c25e00"),
            StackState::Progressing => ("#e3ecfb", "#2f62c4"),
            StackState::Failed => ("#fde1e1", "#b42323"),
            StackState::Missing => ("#eceef2", "#7a8294"),
        }
    }
}

const WIDTH: usize = 230;
const HEIGHT: usize = 62;
const COLUMN_GAP: usize = 70;
const ROW_GAP: usize = 18;
const TOP: usize = 34;
const LEFT: usize = 12;

/// At most `max` characters, with an ellipsis when cut.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The picture; `state_of` gives each stack's state by its full name.
pub fn waves_svg(env: &RenderedEnvironment, state_of: &dyn Fn(&str) -> StackState) -> String {
    let mut boxes: Vec<(String, usize, usize)> = Vec::new();
    for (col, wave) in env.waves.iter().enumerate() {
        for (row, name) in wave.iter().enumerate() {
            let x = LEFT + col * (WIDTH + COLUMN_GAP);
            let y = TOP + row * (HEIGHT + ROW_GAP);
            boxes.push((name.clone(), x, y));
        }
    }
    let rows = env.waves.iter().map(Vec::len).max().unwrap_or(0);
    let width = LEFT * 2 + env.waves.len() * WIDTH + env.waves.len().saturating_sub(1) * COLUMN_GAP;
    let height = TOP + rows * HEIGHT + rows.saturating_sub(1) * ROW_GAP + LEFT;
    let at = |name: &str| {
        boxes
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, x, y)| (*x, *y))
    };
    let mut arrows = Vec::new();
    for stack in &env.stacks {
        for dep in &stack.depends_on {
            let (Some((x1, y1)), Some((x2, y2))) = (at(dep), at(&stack.name)) else {
                continue;
            };
            let fed = stack.fed_by(dep);
            let (sx, sy) = (x1 + WIDTH, y1 + HEIGHT / 2);
            let (ex, ey) = (x2.saturating_sub(4), y2 + HEIGHT / 2);
            let mid = (sx + ex) / 2;
            arrows.push((
                format!("M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}"),
                dep.clone(),
                stack.name.clone(),
                fed.join(", "),
            ));
        }
    }
    html! {
        svg xmlns="http://www.w3.org/2000/svg" class="waves" role="img"
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) {
            title { (env.app) " " (env.environment) ": stacks by wave" }
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                    path d="M0,0 L10,5 L0,10 z" fill="#6b7385";
                }
            }
            @for (col, _) in env.waves.iter().enumerate() {
                text x=(LEFT + col * (WIDTH + COLUMN_GAP)) y="20" font-size="13" font-weight="600" fill="#4a5263" {
                    "wave " (col + 1)
                }
            }
            @for (d, from, to, fed) in &arrows {
                path class="feeds" d=(d) fill="none" stroke="#6b7385" stroke-width="1.5" marker-end="url(#arrow)"
                    data-from=(from) data-to=(to) {
                    title { (from) " feeds " (to) ": " (fed) }
                }
            }
            @for (name, x, y) in &boxes {
                @let stack = env.stack(name);
                @let state = state_of(name);
                @let (fill, stroke) = state.colours();
                g class="stack" data-stack=(name) data-state=(state.name()) {
                    title { (name) ": " (state.name()) }
                    rect x=(x) y=(y) width=(WIDTH) height=(HEIGHT) rx="8" fill=(fill) stroke=(stroke) stroke-width="1.5" {}
                    text x=(x + 10) y=(y + 22) font-size="14" font-weight="600" fill="#1d2330" {
                        (fit(stack.map_or(name.as_str(), |s| s.key.as_str()), 26))
                    }
                    text x=(x + 10) y=(y + 42) font-size="12" fill="#4a5263" {
                        (fit(&format!("{}: {}", state.name(), stack.map(|s| s.units.join(", ")).unwrap_or_default()), 32))
                    }
                }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn long_names_are_cut_with_an_ellipsis() {
        assert_eq!(fit("stateful", 26), "stateful");
        assert_eq!(fit("abcdefghij", 5), "abcd…");
    }
}
