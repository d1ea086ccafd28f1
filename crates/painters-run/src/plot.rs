//! Plots without a plotting stack: heatmaps as SVG (labelled) and PNG
//! (pixels, via the `png` crate), line charts as SVG.
use std::io::Write;
use std::path::Path;

/// A perceptual blue→yellow colour map (viridis control points).
pub fn viridis(t: f64) -> (u8, u8, u8) {
    const P: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * 4.0;
    let i = (x.floor() as usize).min(3);
    let f = x - i as f64;
    let (a, b) = (P[i], P[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn range(m: &[Vec<f64>]) -> (f64, f64) {
    let vals = m.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) }
}

/// Writes a heatmap PNG, `cell` pixels per entry.
pub fn heatmap_png(m: &[Vec<f64>], cell: usize, path: &Path) -> std::io::Result<()> {
    let n = m.len();
    let (lo, hi) = range(m);
    let size = (n * cell).max(1);
    let mut pixels = vec![0u8; size * size * 3];
    for (i, row) in m.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let (r, g, b) = viridis((v - lo) / (hi - lo));
            for y in i * cell..(i + 1) * cell {
                for x in j * cell..(j + 1) * cell {
                    let k = (y * size + x) * 3;
                    pixels[k..k + 3].copy_from_slice(&[r, g, b]);
                }
            }
        }
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, size as u32, size as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(std::io::Error::other)?;
        w.write_image_data(&pixels).map_err(std::io::Error::other)?;
    }
    painters_graph::write_atomic(path, |w| w.write_all(&bytes)).map_err(std::io::Error::other)
}

/// Writes a labelled heatmap as `<stem>.svg` and its rendering `<stem>.png`.
pub fn heatmap(m: &[Vec<f64>], labels: &[String], title: &str, stem: &Path) -> std::io::Result<()> {
    write_svg_png(&heatmap_svg_string(m, labels, title), stem)
}

/// A labelled heatmap as an SVG document.
pub fn heatmap_svg_string(m: &[Vec<f64>], labels: &[String], title: &str) -> String {
    use std::fmt::Write;
    let n = m.len();
    let cell = (480 / n.max(1)).clamp(8, 40);
    let margin = 70;
    let size = margin + n * cell + 90;
    let (lo, hi) = range(m);
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{}" font-family="DejaVu Sans, sans-serif" font-size="10">"#, 30 + n * cell + 70);
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="16" font-size="13" text-anchor="middle">{}</text>"#, size / 2, esc(title));
    for (i, row) in m.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let (r, g, b) = viridis((v - lo) / (hi - lo));
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{cell}" height="{cell}" fill="rgb({r},{g},{b})"><title>{} vs {}: {v:.4}</title></rect>"#,
                margin + j * cell,
                30 + i * cell,
                esc(&labels[i]),
                esc(&labels[j])
            );
        }
        if n <= 40 || i % (n / 20 + 1) == 0 {
            let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, margin - 4, 30 + i * cell + cell / 2 + 3, esc(&labels[i]));
            let _ = writeln!(
                s,
                r#"<text transform="translate({},{}) rotate(-60)" text-anchor="end">{}</text>"#,
                margin + i * cell + cell / 2,
                34 + n * cell,
                esc(&labels[i])
            );
        }
    }
    let bar_x = margin + n * cell + 20;
    for k in 0..100 {
        let (r, g, b) = viridis(1.0 - k as f64 / 99.0);
        let _ = writeln!(s, r#"<rect x="{bar_x}" y="{}" width="14" height="{}" fill="rgb({r},{g},{b})"/>"#, 30 + k * n * cell / 100, n * cell / 100 + 1);
    }
    let _ = writeln!(s, r#"<text x="{}" y="36">{hi:.3}</text><text x="{}" y="{}">{lo:.3}</text>"#, bar_x + 18, bar_x + 18, 30 + n * cell);
    s.push_str("</svg>\n");
    s
}

/// XML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Error bars: (x, low, high), drawn as vertical lines with caps.
    pub intervals: Vec<(f64, f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Horizontal reference lines (value, label).
    pub hlines: Vec<(f64, String)>,
}

const PALETTE: [&str; 10] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

impl LineChart {
    /// The chart as an SVG fragment of `w`×`h` at (`x`, `y`).
    pub fn svg_at(&self, x: f64, y: f64, w: f64, h: f64) -> String {
        use std::fmt::Write;
        let (l, r, t, b) = (58.0, 120.0, 28.0, 42.0);
        let pw = w - l - r;
        let ph = h - t - b;
        let pts = self.series.iter().flat_map(|s| s.points.iter()).filter(|p| p.0.is_finite() && p.1.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for &(px, py) in pts {
            x0 = x0.min(px);
            x1 = x1.max(px);
            y0 = y0.min(py);
            y1 = y1.max(py);
        }
        for (v, _) in &self.hlines {
            y0 = y0.min(*v);
            y1 = y1.max(*v);
        }
        for &(_, lo, hi) in self.series.iter().flat_map(|s| s.intervals.iter()).filter(|i| i.1.is_finite() && i.2.is_finite()) {
            y0 = y0.min(lo);
            y1 = y1.max(hi);
        }
        if let Some((a, c)) = self.y_range {
            (y0, y1) = (a, c);
        }
        if !x0.is_finite() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        if y1 <= y0 {
            y1 = y0 + 1.0;
        }
        let pad = (y1 - y0) * 0.05;
        let (y0, y1) = if self.y_range.is_some() { (y0, y1) } else { (y0 - pad, y1 + pad) };
        let sx = |v: f64| x + l + (v - x0) / (x1 - x0) * pw;
        let sy = |v: f64| y + t + (1.0 - (v - y0) / (y1 - y0)) * ph;
        let mut s = String::new();
        let _ = writeln!(s, r#"<g font-family="DejaVu Sans, sans-serif" font-size="11">"#);
        // A title wider than the chart (about 0.6 em a character) is set smaller, centred on the whole chart.
        let title_size = (13.0f64).min((w - 8.0) / (0.6 * self.title.chars().count().max(1) as f64)).max(7.0);
        let _ = writeln!(s, r#"<text x="{}" y="{}" font-size="{title_size:.1}" text-anchor="middle">{}</text>"#, x + w / 2.0, y + 17.0, esc(&self.title));
        let _ = writeln!(s, r##"<rect x="{}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##, x + l, y + t);
        let (ticks, decimals) = nice_ticks(y0, y1);
        for v in ticks {
            let yy = sy(v);
            let _ = writeln!(s, r##"<line x1="{}" x2="{}" y1="{yy}" y2="{yy}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v:.decimals$}</text>"##, x + l, x + l + pw, x + l - 4.0, yy + 4.0);
        }
        // x ticks at the data's own x values when there are few of them (M = 3, 7, 11, …),
        // else round ones (whole numbers where the data's x are: M = 0, 5, 10, …).
        let mut xs: Vec<f64> = self.series.iter().flat_map(|se| se.points.iter().map(|p| p.0)).filter(|v| v.is_finite()).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        if xs.len() > 12 {
            let whole = xs.iter().all(|v| v.fract() == 0.0);
            xs = nice_ticks(x0, x1).0.into_iter().filter(|v| !whole || v.fract() == 0.0).collect();
        }
        for xv in xs {
            let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, sx(xv), y + t + ph + 14.0, fmt_tick(xv));
        }
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, x + l + pw / 2.0, y + h - 8.0, esc(&self.x_label));
        let _ = writeln!(s, r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#, x + 14.0, y + t + ph / 2.0, esc(&self.y_label));
        // Reference lines, top to bottom; a label that would touch the one above goes under its line.
        let mut hlines: Vec<&(f64, String)> = self.hlines.iter().collect();
        hlines.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut last_label = f64::NEG_INFINITY;
        for (v, label) in hlines {
            let yy = sy(*v);
            let ly = if yy - 3.0 - last_label < 11.0 { yy + 11.0 } else { yy - 3.0 };
            last_label = ly;
            let _ = writeln!(s, r##"<line x1="{}" x2="{}" y1="{yy}" y2="{yy}" stroke="#999" stroke-dasharray="4 3"/><text x="{}" y="{ly}" fill="#777">{}</text>"##, x + l, x + l + pw, x + l + 3.0, esc(label));
        }
        for (i, se) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let mut pts: Vec<(f64, f64)> = se.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let path: Vec<String> = pts.iter().map(|&(a, c)| format!("{:.1},{:.1}", sx(a), sy(c.clamp(y0, y1)))).collect();
            if path.len() > 1 {
                let _ = writeln!(s, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, path.join(" "));
            }
            for &(a, lo, hi) in se.intervals.iter().filter(|i| i.0.is_finite() && i.1.is_finite() && i.2.is_finite()) {
                let (xa, ylo, yhi) = (sx(a), sy(lo.clamp(y0, y1)), sy(hi.clamp(y0, y1)));
                let _ = writeln!(
                    s,
                    r#"<path d="M{xa:.1},{ylo:.1} V{yhi:.1} M{:.1},{ylo:.1} H{:.1} M{:.1},{yhi:.1} H{:.1}" stroke="{color}" stroke-width="1.2" fill="none"/>"#,
                    xa - 3.0, xa + 3.0, xa - 3.0, xa + 3.0
                );
            }
            for &(a, c) in &pts {
                let _ = writeln!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} M={a}: {c:.4}</title></circle>"#, sx(a), sy(c.clamp(y0, y1)), esc(&se.name));
            }
            let ly = y + t + 10.0 + i as f64 * 15.0;
            let _ = writeln!(s, r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#, x + l + pw + 8.0, x + l + pw + 24.0, x + l + pw + 28.0, ly + 4.0, esc(&se.name));
        }
        s.push_str("</g>\n");
        s
    }
}

/// About five tick values in `[lo, hi]`, multiples of a round step (1, 2,
/// 2.5 or 5 × 10^k: the one whose count is nearest five), with the
/// decimals that step needs.
fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    // A range too narrow for its magnitude (or none) gets one tick.
    if !(hi > lo && lo.is_finite() && hi.is_finite()) || (hi - lo) < 1e-9 * lo.abs().max(hi.abs()) {
        return (vec![lo], 2);
    }
    let mag = 10f64.powf(((hi - lo) / 5.0).log10().floor());
    let count = |step: f64| ((hi / step + 1e-9).floor() - (lo / step - 1e-9).ceil() + 1.0 - 5.0).abs();
    // The step giving the count nearest 5 (the larger on ties).
    let step = [1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0]
        .iter()
        .map(|m| m * mag)
        .fold(f64::NAN, |best, s| if best.is_nan() || count(s) <= count(best) { s } else { best });
    let exp = step.log10().floor();
    let decimals = (-exp + if (step / 10f64.powf(exp) - 2.5).abs() < 1e-9 { 1.0 } else { 0.0 }).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let ticks = (first..).map(|k| k as f64 * step).take_while(|v| *v <= hi + step * 1e-9).take(12).map(|v| ((v * 10f64.powi(decimals as i32)).round() / 10f64.powi(decimals as i32)) + 0.0).collect();
    (ticks, decimals)
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// Charts in a grid of `cols` columns, as one SVG document.
pub fn grid_svg(charts: &[LineChart], cols: usize, w: f64, h: f64) -> String {
    let cols = cols.max(1);
    let rows = charts.len().div_ceil(cols).max(1);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        w * cols as f64,
        h * rows as f64
    );
    for (i, c) in charts.iter().enumerate() {
        s.push_str(&c.svg_at((i % cols) as f64 * w, (i / cols) as f64 * h, w, h));
    }
    s.push_str("</svg>\n");
    s
}

/// Writes `svg` to `<stem>.svg` and its rendering to `<stem>.png`.
pub fn write_svg_png(svg: &str, stem: &Path) -> std::io::Result<()> {
    let svg_path = stem.with_extension("svg");
    painters_graph::write_atomic(&svg_path, |w| w.write_all(svg.as_bytes())).map_err(std::io::Error::other)?;
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_str(svg, &opt).map_err(std::io::Error::other)?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| std::io::Error::other("empty image"))?;
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().map_err(std::io::Error::other)?;
    painters_graph::write_atomic(&stem.with_extension("png"), |w| w.write_all(&png)).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_multiples_inside_the_range() {
        assert_eq!(nice_ticks(-0.28, 1.06), (vec![-0.25, 0.0, 0.25, 0.5, 0.75, 1.0], 2));
        assert_eq!(nice_ticks(1.22, 8.08), (vec![2.0, 4.0, 6.0, 8.0], 0));
        assert_eq!(nice_ticks(0.05, 0.26), (vec![0.05, 0.1, 0.15, 0.2, 0.25], 2));
        assert_eq!(nice_ticks(3.0, 3.0).0, vec![3.0]);
        assert_eq!(nice_ticks(1e12, 1e12 + 1e-6).0, vec![1e12]);
        assert_eq!(nice_ticks(0.0, 110.0), (vec![0.0, 25.0, 50.0, 75.0, 100.0], 0));
    }

    #[test]
    fn many_whole_x_values_get_whole_round_ticks() {
        let labels = |xs: &[f64]| {
            let chart = LineChart {
                title: "t".into(),
                x_label: "M".into(),
                y_label: "y".into(),
                series: vec![Series { name: "s".into(), points: xs.iter().map(|&x| (x, 0.5)).collect(), intervals: vec![] }],
                y_range: Some((0.0, 1.0)),
                hlines: vec![],
            };
            let svg = chart.svg_at(0.0, 0.0, 600.0, 300.0);
            // The x tick labels: the texts at the tick row (under the plot area: y = 28 + 230 + 14).
            svg.lines().filter(|l| l.starts_with("<text") && l.contains(r#" y="272""#)).map(|l| l.split('>').nth(1).unwrap().trim_end_matches("</text").to_string()).collect::<Vec<_>>()
        };
        // M = 0, 1, 3, …, 29 (16 values): 0, 5, …, 25, not 7.25, 14.50.
        let ms: Vec<f64> = std::iter::once(0.0).chain((1..30).step_by(2).map(f64::from)).collect();
        assert_eq!(labels(&ms), ["0", "5", "10", "15", "20", "25"]);
        // Few values: the data's own.
        assert_eq!(labels(&[1.0, 3.0, 5.0]), ["1", "3", "5"]);
        // Range 0..12 with 13 values: whole ticks only (no 2.5 steps).
        assert_eq!(labels(&(0..13).map(f64::from).collect::<Vec<_>>()), ["0", "5", "10"]);
    }
}
