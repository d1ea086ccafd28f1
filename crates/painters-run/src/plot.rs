//! Plots without a plotting stack: heatmaps as SVG (labelled) and PNG
//! (pixels, via the `png` crate), line charts as SVG.
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

/// Writes a labelled heatmap SVG.
pub fn heatmap_svg(m: &[Vec<f64>], labels: &[String], title: &str, path: &Path) -> std::io::Result<()> {
    use std::fmt::Write;
    let n = m.len();
    let cell = (480 / n.max(1)).clamp(8, 40);
    let margin = 70;
    let size = margin + n * cell + 90;
    let (lo, hi) = range(m);
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{}" font-family="sans-serif" font-size="10">"#, size + 20);
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
    painters_graph::write_atomic(path, |w| w.write_all(s.as_bytes())).map_err(std::io::Error::other)
}

/// XML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
