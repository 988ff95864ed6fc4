//! Where each host is drawn: domains as regions, their hosts stacked inside; hosts of no domain
//! (the DNS root stand-in, say) in a region of their own. Positions from the file win.

use bevy::math::{Rect, Vec2};

use crate::scenario::Scenario;

/// The diagram's geometry, in world units (pixels at zoom 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// One point per host, in host order.
    pub hosts: Vec<Vec2>,
    /// One region per group: a label and its rectangle.
    pub regions: Vec<(String, Rect)>,
}

const HOST_GAP: f32 = 110.0;
const REGION_WIDTH: f32 = 230.0;
/// In a region of three hosts or more, every other host sits this far right of the middle and
/// the rest this far left: a line between the first and the third then passes beside the second
/// instead of through it (a mail program that fetches from the store below its submission
/// server, say). Such a region is wider by twice this.
const ZIGZAG: f32 = 32.0;
const REGION_GAP: f32 = 50.0;
/// Regions per row before a new row starts, for up to eight domains.
const PER_ROW: usize = 4;

/// Regions per row: four for a lesson; for many domains, enough that the diagram's shape is
/// about that of the space the panels leave (a little wider than tall), not a tall column.
fn per_row(groups: usize) -> usize {
    if groups <= 2 * PER_ROW {
        PER_ROW
    } else {
        ((groups as f32 * 2.2).sqrt().ceil() as usize).max(PER_ROW)
    }
}

/// Lays out the hosts of a scenario; reads well from two to thirty hosts.
pub fn layout(scenario: &Scenario) -> Layout {
    // Groups: each domain that has hosts, in file order, and the hosts of no domain.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (d, domain) in scenario.domains.iter().enumerate() {
        let members: Vec<usize> = (0..scenario.hosts.len())
            .filter(|&h| scenario.hosts[h].domain == Some(d))
            .collect();
        if !members.is_empty() {
            groups.push((domain.name.clone(), members));
        }
    }
    // Rows of regions. The hosts of no domain get a row of their own on top, so that the lines
    // between the domains below do not run through them.
    let mut rows: Vec<Vec<(String, Vec<usize>)>> = Vec::new();
    let loose: Vec<usize> = (0..scenario.hosts.len())
        .filter(|&h| scenario.hosts[h].domain.is_none())
        .collect();
    if !loose.is_empty() {
        rows.push(vec![("the Internet".to_string(), loose)]);
    }
    for chunk in groups.chunks(per_row(groups.len())) {
        rows.push(chunk.to_vec());
    }
    let tallest = |row: &[(String, Vec<usize>)]| -> f32 {
        if row.len() == 1 && row[0].0 == "the Internet" {
            // Side by side: a short, wide region.
            return HOST_GAP + 50.0;
        }
        row.iter().map(|g| g.1.len()).max().unwrap_or(1) as f32 * HOST_GAP + 50.0
    };
    let total_height: f32 =
        rows.iter().map(|r| tallest(r)).sum::<f32>() + REGION_GAP * (rows.len() as f32 - 1.0);
    let mut hosts = vec![Vec2::ZERO; scenario.hosts.len()];
    let mut regions = Vec::new();
    let mut top = total_height / 2.0;
    for row in &rows {
        let height = tallest(row);
        if row.len() == 1 && row[0].0 == "the Internet" {
            let members = &row[0].1;
            let width = members.len() as f32 * REGION_WIDTH;
            let rect = Rect::new(-width / 2.0, top - height, width / 2.0, top);
            for (k, &h) in members.iter().enumerate() {
                hosts[h] = Vec2::new(
                    rect.min.x + (k as f32 + 0.5) * REGION_WIDTH,
                    rect.center().y - 10.0,
                );
            }
            regions.push((row[0].0.clone(), rect));
            top -= height + REGION_GAP;
            continue;
        }
        let zigzag = |members: &[usize]| if members.len() >= 3 { ZIGZAG } else { 0.0 };
        let width = row
            .iter()
            .map(|(_, m)| REGION_WIDTH + 2.0 * zigzag(m))
            .sum::<f32>()
            + (row.len() as f32 - 1.0) * REGION_GAP;
        let mut left = -width / 2.0;
        for (name, members) in row {
            let zig = zigzag(members);
            let rect = Rect::new(left, top - height, left + REGION_WIDTH + 2.0 * zig, top);
            left = rect.max.x + REGION_GAP;
            let span = (members.len() as f32 - 1.0) * HOST_GAP;
            for (k, &h) in members.iter().enumerate() {
                let side = if k % 2 == 0 { -zig } else { zig };
                hosts[h] = Vec2::new(
                    rect.center().x + side,
                    rect.center().y - 10.0 + span / 2.0 - k as f32 * HOST_GAP,
                );
            }
            regions.push((name.clone(), rect));
        }
        top -= height + REGION_GAP;
    }
    for (h, host) in scenario.hosts.iter().enumerate() {
        if let Some((x, y)) = host.position {
            hosts[h] = Vec2::new(x, y);
        }
    }
    // A region grows to hold a member placed by hand (in the file or the editor), with room
    // for its label below it.
    for (k, (_, members)) in rows.iter().flatten().enumerate() {
        for &h in members {
            if scenario.hosts[h].position.is_some() {
                let around = Rect::from_center_size(
                    hosts[h] - Vec2::new(0.0, 12.0),
                    Vec2::new(170.0, 110.0),
                );
                regions[k].1 = regions[k].1.union(around);
            }
        }
    }
    Layout { hosts, regions }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_domains_make_a_wide_diagram_not_a_column() {
        let sc = crate::bench::generate(50, 0, 1);
        let l = layout(&sc);
        let mut bounds = Rect::EMPTY;
        for (_, r) in &l.regions {
            bounds = bounds.union(*r);
        }
        let ratio = bounds.width() / bounds.height();
        assert!((0.9..2.0).contains(&ratio), "{ratio}");
        assert_eq!(per_row(3), 4);
        assert_eq!(per_row(8), 4);
    }

    #[test]
    fn hosts_do_not_overlap_and_sit_in_their_region() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/13-several-recipients-bcc.ron"
        );
        let sc = crate::scenario::load_file(std::path::Path::new(path)).unwrap();
        let l = layout(&sc);
        for a in 0..l.hosts.len() {
            for b in a + 1..l.hosts.len() {
                assert!(
                    l.hosts[a].distance(l.hosts[b]) > 60.0,
                    "{} and {} overlap",
                    sc.hosts[a].name,
                    sc.hosts[b].name
                );
            }
        }
        for (h, host) in sc.hosts.iter().enumerate() {
            let label = host
                .domain
                .map(|d| sc.domains[d].name.clone())
                .unwrap_or_else(|| "the Internet".into());
            let (_, rect) = l.regions.iter().find(|(n, _)| *n == label).unwrap();
            assert!(
                rect.contains(l.hosts[h]),
                "{} is outside {label}",
                host.name
            );
        }
    }

    #[test]
    fn a_line_between_two_hosts_of_a_region_passes_beside_the_one_between_them() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/06-unknown-user.ron");
        let sc = crate::scenario::load_file(std::path::Path::new(path)).unwrap();
        let l = layout(&sc);
        let at = |name: &str| l.hosts[sc.host_by_name(name).unwrap()];
        // The laptop fetches from mx.alpha.example; smtp.alpha.example is stacked between them.
        let (laptop, smtp, mx) = (
            at("laptop.alpha.example"),
            at("smtp.alpha.example"),
            at("mx.alpha.example"),
        );
        assert!(smtp.y < laptop.y && mx.y < smtp.y);
        let clearance = crate::gui::distance_to_segment(smtp, laptop, mx);
        assert!(
            clearance > 60.0,
            "the IMAP line passes {clearance} from smtp.alpha.example"
        );
        // Within the region still.
        let region = l.regions.iter().find(|r| r.0 == "alpha.example").unwrap().1;
        assert!([laptop, smtp, mx].iter().all(|p| region.contains(*p)));
    }

    #[test]
    fn a_host_placed_by_hand_stays_inside_its_domain() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let mut sc = crate::scenario::load_file(std::path::Path::new(path)).unwrap();
        let mx = sc.host_by_name("mx.beta.example").unwrap();
        sc.hosts[mx].position = Some((900.0, -400.0));
        let l = layout(&sc);
        assert_eq!(l.hosts[mx], Vec2::new(900.0, -400.0));
        let (_, beta) = l.regions.iter().find(|(n, _)| n == "beta.example").unwrap();
        assert!(beta.contains(l.hosts[mx]));
    }
}
