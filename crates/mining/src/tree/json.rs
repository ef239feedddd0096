//! The tree as JSON for the API and UI: every node with its test (attribute, kind, split
//! value or level), its class weights and majority class, and its children each under the
//! condition text Weka prints. `tests/tree_j48.rs` checks it against the printed tree.

use super::{Algo, Node, Test, Tree};
use serde_json::{Value, json};

impl Tree {
    /// The tree as a JSON value: `{"algorithm", "target", "classes", "leaves", "size", "root"}`,
    /// each node `{"weight", "distribution", "class", "split"?, "children"?}` where `split` is
    /// `{"attribute", "kind": "nominal"|"binary_nominal"|"numeric", "value"?}` and each child is
    /// `{"condition", "node"}`.
    pub fn to_json(&self) -> Value {
        let algorithm = match self.algo {
            Algo::Id3 => "Id3",
            Algo::C45 { .. } => "J48",
        };
        json!({
            "algorithm": algorithm,
            "target": self.target(),
            "classes": self.classes(),
            "leaves": self.leaves(),
            "size": self.size(),
            "root": self.node_json(&self.root),
        })
    }

    fn node_json(&self, node: &Node) -> Value {
        let d = &node.dist;
        let dist = d.class_weights();
        let class = if node.empty && matches!(self.algo, Algo::Id3) {
            Value::Null
        } else {
            json!(self.classes()[super::print::weka_max_index(dist)])
        };
        let mut v = json!({
            "weight": d.total(),
            "distribution": dist,
            "class": class,
        });
        if let Some(test) = &node.test {
            let attribute = &self.info[test.attr()].name;
            let split = match test {
                Test::Nominal { .. } => json!({"attribute": attribute, "kind": "nominal"}),
                Test::BinaryNominal { attr, value } => json!({
                    "attribute": attribute,
                    "kind": "binary_nominal",
                    "value": self.info[*attr]
                        .levels
                        .as_ref()
                        .and_then(|l| l.get(*value as usize)),
                }),
                Test::Numeric { point, .. } => {
                    json!({"attribute": attribute, "kind": "numeric", "value": point})
                }
            };
            let children: Vec<Value> = node
                .children
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"condition": self.condition(test, i), "node": self.node_json(c)}))
                .collect();
            v["split"] = split;
            v["children"] = Value::Array(children);
        }
        v
    }
}
