//! Decision trees: ID3 as Weka's `Id3` and C4.5 as Weka's `J48`.
