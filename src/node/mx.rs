//! Choosing the servers to deliver to, as RFC 5321 section 5.1 prescribes.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::proto::dns::Name;

/// Where to try delivering mail for a domain, best first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxPlan {
    /// Exchanger names in the order to try them.
    Exchangers(Vec<(u16, Name)>),
    /// The domain publishes the null MX `MX 0 .`: it takes no mail (RFC 7505 section 3).
    NullMx,
    /// This server is itself the best MX, yet the mail is not its to keep: a loop
    /// (RFC 5321 section 5.1, "it MUST NOT consider any ... with a preference equal to or
    /// greater than its own").
    LoopsBackToMe,
}

/// Orders MX records: lowest preference first, equal preferences shuffled with the seeded RNG,
/// and, when this server appears in the list, its own entry and every one not better dropped.
pub fn plan_exchangers<R: Rng + ?Sized>(
    records: &[(u16, Name)],
    own_names: &[&str],
    rng: &mut R,
) -> MxPlan {
    // RFC 7505 section 3: a single MX with the root as exchange means "no mail here".
    if records.len() == 1 && records[0].1.is_empty() {
        return MxPlan::NullMx;
    }
    let mut list: Vec<(u16, Name)> = records
        .iter()
        .filter(|(_, n)| !n.is_empty())
        .cloned()
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    // Shuffle each run of equal preferences (section 5.1: "randomize ... to spread the load").
    let mut start = 0;
    while start < list.len() {
        let end = start
            + list[start..]
                .iter()
                .take_while(|r| r.0 == list[start].0)
                .count();
        list[start..end].shuffle(rng);
        start = end;
    }
    if let Some(own) = list
        .iter()
        .filter(|(_, n)| own_names.iter().any(|o| o.eq_ignore_ascii_case(n)))
        .map(|(p, _)| *p)
        .min()
    {
        list.retain(|(p, _)| *p < own);
        if list.is_empty() {
            return MxPlan::LoopsBackToMe;
        }
    }
    MxPlan::Exchangers(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn mx(list: &[(u16, &str)]) -> Vec<(u16, Name)> {
        list.iter().map(|(p, n)| (*p, Name::from(*n))).collect()
    }

    fn names(plan: &MxPlan) -> Vec<&str> {
        match plan {
            MxPlan::Exchangers(l) => l.iter().map(|(_, n)| &**n).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn lowest_preference_first() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let plan = plan_exchangers(&mx(&[(20, "mx2"), (10, "mx1"), (30, "mx3")]), &[], &mut rng);
        assert_eq!(names(&plan), ["mx1", "mx2", "mx3"]);
    }

    #[test]
    fn equal_preferences_are_shuffled_by_the_seed() {
        let records = mx(&[(10, "a"), (10, "b"), (10, "c"), (10, "d"), (20, "z")]);
        let mut orders = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let plan = plan_exchangers(&records, &[], &mut rng);
            assert_eq!(names(&plan).last(), Some(&"z"));
            orders.insert(names(&plan).join(","));
        }
        assert!(
            orders.len() > 1,
            "the seed must change the order of equal preferences"
        );
        let again = |s| {
            names(&plan_exchangers(
                &records,
                &[],
                &mut ChaCha8Rng::seed_from_u64(s),
            ))
            .join(",")
        };
        assert_eq!(again(7), again(7));
    }

    #[test]
    fn a_relay_drops_itself_and_every_worse_entry() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let records = mx(&[(10, "mx1"), (20, "mx2"), (30, "mx3")]);
        assert_eq!(
            names(&plan_exchangers(&records, &["MX2"], &mut rng)),
            ["mx1"]
        );
        assert_eq!(
            plan_exchangers(&records, &["mx1"], &mut rng),
            MxPlan::LoopsBackToMe
        );
    }

    #[test]
    fn null_mx_means_no_mail() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            plan_exchangers(&mx(&[(0, "")]), &[], &mut rng),
            MxPlan::NullMx
        );
    }
}
