//! Frequent itemsets and association rules: [`apriori`], [`eclat`] and [`fpgrowth`] find the
//! same itemsets (a property test holds them to it); [`assoc`] derives rules with mlxtend's
//! metrics.
