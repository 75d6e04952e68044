//! Dependency cycles between stages (self and unknown needs are caught per stage).

use super::read::Ctx;
use super::stage::NeedRef;
use std::collections::HashMap;

/// Reports every cycle of `needs` once, as `a -> b -> a`, at the edge that leaves the
/// cycle's first stage in file order.
pub fn check_cycles(ctx: &mut Ctx, stages: &[(String, Vec<NeedRef>)]) {
    let index: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; stages.len()];
    for start in 0..stages.len() {
        if state[start] != 0 {
            continue;
        }
        // Iterative DFS: (node, next edge to try); the path is the stack itself.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
            let needs = &stages[node].1;
            if *edge >= needs.len() {
                state[node] = 2;
                stack.pop();
                continue;
            }
            let need = &needs[*edge];
            *edge += 1;
            let Some(&next) = index.get(need.stage.as_str()) else {
                continue;
            };
            match state[next] {
                0 => {
                    state[next] = 1;
                    stack.push((next, 0));
                }
                1 => {
                    let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                    let members: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                    // Name the cycle from its stage that comes first in the file.
                    let first = members
                        .iter()
                        .position(|m| *m == *members.iter().min().unwrap_or(&next))
                        .unwrap_or(0);
                    let mut names: Vec<&str> = (0..members.len())
                        .map(|i| stages[members[(first + i) % members.len()]].0.as_str())
                        .collect();
                    names.push(names[0]);
                    let a = members[first];
                    let b = members[(first + 1) % members.len()];
                    let edge = stages[a].1.iter().find(|r| r.stage == stages[b].0);
                    let (pos, path) = match edge {
                        Some(r) => (r.pos, r.path.clone()),
                        None => (need.pos, need.path.clone()),
                    };
                    ctx.err(
                        pos,
                        &path,
                        format!("needs form a cycle: {}", names.join(" -> ")),
                    );
                }
                _ => {}
            }
        }
    }
}
