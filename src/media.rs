//! The photo pipeline: sniff the type from the bytes, check size and pixel limits before
//! decoding, read EXIF (capture time, GPS, camera, orientation), decode, resize *before*
//! rotating (rotating 12 megapixels costs more than the resize), and encode an upright display
//! image (about 1600 px long edge) and thumbnail (about 320 px) with no metadata.
//!
//! Pure and synchronous: callers run it off the async runtime with bounded concurrency.

use crate::domain::LatLon;
use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat, ImageReader};
use std::io::Cursor;

/// Long edge of the display image.
pub const DISPLAY_EDGE: u32 = 1600;
/// Long edge of the thumbnail.
pub const THUMB_EDGE: u32 = 320;

/// What a photo may be, checked before anything is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    /// Width × height.
    pub max_pixels: u64,
    /// Either side.
    pub max_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 40 * 1024 * 1024,
            max_pixels: 60_000_000,
            max_side: 16_384,
        }
    }
}

/// Why a file is not a photo we can take, as a translation key (`err-photo-…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("empty file")]
    Empty,
    #[error("file too large")]
    TooLarge,
    #[error("not a JPEG, PNG or WebP picture")]
    UnknownType,
    #[error("HEIC/HEIF cannot be decoded here")]
    Heic,
    #[error("{0}×{1} pixels is more than allowed")]
    TooManyPixels(u32, u32),
    #[error("the picture is damaged or incomplete")]
    Broken,
}

impl MediaError {
    /// Translation key of the message for a person.
    pub fn key(&self) -> &'static str {
        match self {
            MediaError::Empty => "err-photo-empty",
            MediaError::TooLarge => "err-photo-too-large",
            MediaError::UnknownType => "err-photo-type",
            MediaError::Heic => "err-photo-heic",
            MediaError::TooManyPixels(..) => "err-photo-pixels",
            MediaError::Broken => "err-photo-broken",
        }
    }
}

/// The picture types we take, sniffed from the bytes (never from the name or the header the
/// browser sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    WebP,
}

impl Kind {
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::WebP => "image/webp",
        }
    }
    fn format(self) -> ImageFormat {
        match self {
            Kind::Jpeg => ImageFormat::Jpeg,
            Kind::Png => ImageFormat::Png,
            Kind::WebP => ImageFormat::WebP,
        }
    }
}

/// Sniffs the type from the first bytes.
pub fn sniff(bytes: &[u8]) -> Result<Kind, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(Kind::WebP);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        if [
            b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif",
        ]
        .iter()
        .any(|b| brand == *b)
        {
            return Err(MediaError::Heic);
        }
    }
    Err(MediaError::UnknownType)
}

/// What EXIF says about a photo.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PhotoMeta {
    /// Capture time as the camera wrote it (`2008-10-22T16:28:39`), local to the camera.
    pub taken_local: Option<String>,
    /// Capture time in UTC milliseconds, when the camera also wrote its offset.
    pub taken_at: Option<i64>,
    /// The camera's offset from UTC (`+09:00`), when written.
    pub offset: Option<String>,
    pub position: Option<LatLon>,
    pub camera: Option<String>,
    /// EXIF orientation (1–8; 1 when absent).
    pub orientation: u8,
}

fn ascii(f: &exif::Field) -> Option<String> {
    match &f.value {
        exif::Value::Ascii(v) => v
            .first()
            .map(|s| {
                String::from_utf8_lossy(s)
                    .trim()
                    .trim_matches('\0')
                    .to_string()
            })
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

fn dms(f: &exif::Field) -> Option<f64> {
    match &f.value {
        exif::Value::Rational(v) if v.len() >= 3 => {
            let part = |i: usize| {
                let r = v[i];
                (r.denom != 0).then(|| r.num as f64 / r.denom as f64)
            };
            Some(part(0)? + part(1)? / 60.0 + part(2)? / 3600.0)
        }
        _ => None,
    }
}

/// Reads EXIF from a JPEG, PNG or WebP; a file without (or with unreadable) EXIF has none.
pub fn read_meta(bytes: &[u8]) -> PhotoMeta {
    let mut meta = PhotoMeta {
        orientation: 1,
        ..PhotoMeta::default()
    };
    let Ok(ex) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return meta;
    };
    let get = |tag| ex.get_field(tag, exif::In::PRIMARY);
    if let Some(o) = get(exif::Tag::Orientation).and_then(|f| f.value.get_uint(0)) {
        if (1..=8).contains(&o) {
            meta.orientation = o as u8;
        }
    }
    meta.camera = get(exif::Tag::Model)
        .and_then(ascii)
        .map(|m| m.chars().filter(|c| !c.is_control()).take(100).collect());
    if let Some(raw) = get(exif::Tag::DateTimeOriginal)
        .or_else(|| get(exif::Tag::DateTime))
        .and_then(ascii)
    {
        // `2008:10:22 16:28:39`
        let fmt =
            time::macros::format_description!("[year]:[month]:[day] [hour]:[minute]:[second]");
        if let Ok(t) = time::PrimitiveDateTime::parse(raw.get(..19).unwrap_or(&raw), fmt) {
            meta.taken_local = Some(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ));
            let offset = get(exif::Tag::OffsetTimeOriginal)
                .or_else(|| get(exif::Tag::OffsetTime))
                .and_then(ascii);
            if let Some(o) = offset {
                let ofmt = time::macros::format_description!("[offset_hour]:[offset_minute]");
                if let Ok(off) = time::UtcOffset::parse(&o, ofmt) {
                    meta.taken_at =
                        Some((t.assume_offset(off).unix_timestamp_nanos() / 1_000_000) as i64);
                    meta.offset = Some(o);
                }
            }
        }
    }
    let lat = get(exif::Tag::GPSLatitude).and_then(dms);
    let lon = get(exif::Tag::GPSLongitude).and_then(dms);
    if let (Some(lat), Some(lon)) = (lat, lon) {
        let south = get(exif::Tag::GPSLatitudeRef)
            .and_then(ascii)
            .is_some_and(|r| r.starts_with('S'));
        let west = get(exif::Tag::GPSLongitudeRef)
            .and_then(ascii)
            .is_some_and(|r| r.starts_with('W'));
        let lat = if south { -lat } else { lat };
        let lon = if west { -lon } else { lon };
        // A GPS block of zeros is a camera without a fix, not a place in the Gulf of Guinea.
        if !(lat == 0.0 && lon == 0.0) {
            meta.position = LatLon::new(lat, lon).ok();
        }
    }
    meta
}

/// A derived image: JPEG bytes and their size.
#[derive(Debug, Clone)]
pub struct Derived {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Everything the pipeline makes of one upload.
#[derive(Debug, Clone)]
pub struct Processed {
    pub kind: Kind,
    /// Size of the original in bytes.
    pub original_bytes: usize,
    /// Size of the original as stored (before orientation).
    pub width: u32,
    pub height: u32,
    pub meta: PhotoMeta,
    pub display: Derived,
    pub thumb: Derived,
}

/// The size that fits `edge` on the long side (never enlarged).
fn fit(w: u32, h: u32, edge: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= edge {
        return (w.max(1), h.max(1));
    }
    let scale = edge as f64 / long as f64;
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

fn resize(src: &FirImage<'_>, w: u32, h: u32) -> Result<FirImage<'static>, MediaError> {
    let mut dst = FirImage::new(w, h, PixelType::U8x3);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(src, &mut dst, &opts)
        .map_err(|_| MediaError::Broken)?;
    Ok(dst)
}

fn upright_jpeg(img: FirImage<'_>, orientation: Orientation) -> Result<Derived, MediaError> {
    let (w, h) = (img.width(), img.height());
    let buf = image::RgbImage::from_raw(w, h, img.into_vec()).ok_or(MediaError::Broken)?;
    let mut dynamic = DynamicImage::ImageRgb8(buf);
    dynamic.apply_orientation(orientation);
    let rgb = dynamic.into_rgb8();
    let (w, h) = rgb.dimensions();
    let mut out = Vec::with_capacity((w * h / 4) as usize);
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(
            rgb.as_raw(),
            u16::try_from(w).map_err(|_| MediaError::Broken)?,
            u16::try_from(h).map_err(|_| MediaError::Broken)?,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|_| MediaError::Broken)?;
    Ok(Derived {
        jpeg: out,
        width: w,
        height: h,
    })
}

/// Width and height from the header alone. A PNG's are at a fixed place in its first chunk;
/// the others ask the decoder for the header only (no decoder limits here: our own follow).
fn dimensions(bytes: &[u8], kind: Kind) -> Result<(u32, u32), MediaError> {
    if kind == Kind::Png {
        if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
            return Err(MediaError::Broken);
        }
        let be = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        return Ok((be(16), be(20)));
    }
    let mut header = ImageReader::with_format(Cursor::new(bytes), kind.format());
    header.no_limits();
    header.into_dimensions().map_err(|_| MediaError::Broken)
}

/// Runs the whole pipeline on one upload.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(MediaError::TooLarge);
    }
    let kind = sniff(bytes)?;
    // Dimensions from the header alone, checked before any pixel is decoded.
    let (w, h) = dimensions(bytes, kind)?;
    if w == 0 || h == 0 {
        return Err(MediaError::Broken);
    }
    if w > limits.max_side || h > limits.max_side || u64::from(w) * u64::from(h) > limits.max_pixels
    {
        return Err(MediaError::TooManyPixels(w, h));
    }
    let meta = read_meta(bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_pixels * 4 + 64 * 1024 * 1024);
    reader.limits(l);
    let decoder = reader.into_decoder().map_err(|_| MediaError::Broken)?;
    let img = DynamicImage::from_decoder(decoder).map_err(|_| MediaError::Broken)?;
    // Transparent pictures (screenshots) go on white: JPEG has no alpha.
    let rgb = if img.color().has_alpha() {
        let rgba = img.into_rgba8();
        let (w, h) = rgba.dimensions();
        let mut out = image::RgbImage::new(w, h);
        for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
            let a = u16::from(p[3]);
            for c in 0..3 {
                o[c] = ((u16::from(p[c]) * a + 255 * (255 - a)) / 255) as u8;
            }
        }
        out
    } else {
        img.into_rgb8()
    };
    let (w, h) = rgb.dimensions();
    let src = FirImage::from_vec_u8(w, h, rgb.into_raw(), PixelType::U8x3)
        .map_err(|_| MediaError::Broken)?;
    let orientation = Orientation::from_exif(meta.orientation).unwrap_or(Orientation::NoTransforms);
    let (dw, dh) = fit(w, h, DISPLAY_EDGE);
    let display_px = resize(&src, dw, dh)?;
    drop(src);
    let (tw, th) = fit(dw, dh, THUMB_EDGE);
    let thumb_px = resize(&display_px, tw, th)?;
    Ok(Processed {
        kind,
        original_bytes: bytes.len(),
        width: w,
        height: h,
        meta,
        display: upright_jpeg(display_px, orientation)?,
        thumb: upright_jpeg(thumb_px, orientation)?,
    })
}

/// What to write into a generated photo's EXIF (the demo makes its own pictures).
#[derive(Debug, Clone)]
pub struct MadeExif<'a> {
    /// `2026:11:20 18:30:00`.
    pub taken_local: &'a str,
    /// `+09:00`.
    pub offset: &'a str,
    pub position: LatLon,
    pub camera: &'a str,
}

/// Encodes RGB pixels as a JPEG carrying a small EXIF block (camera, capture time with offset,
/// GPS with N/S and E/W references).
pub fn jpeg_with_exif(
    rgb: &[u8],
    w: u16,
    h: u16,
    exif: &MadeExif<'_>,
) -> Result<Vec<u8>, MediaError> {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|_| MediaError::Broken)?;
    let ascii = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    let rational3 = |deg: f64| {
        let d = deg.abs();
        let whole = d.trunc();
        let minutes = ((d - whole) * 60.0).trunc();
        let seconds = ((d - whole) * 60.0 - minutes) * 60.0;
        let mut v = Vec::new();
        for (num, den) in [
            (whole as u32, 1u32),
            (minutes as u32, 1),
            ((seconds * 1000.0).round() as u32, 1000),
        ] {
            v.extend_from_slice(&num.to_le_bytes());
            v.extend_from_slice(&den.to_le_bytes());
        }
        v
    };
    // Three IFDs (0th, Exif, GPS) in a row, their long values after them.
    type Entry = (u16, u16, u32, Vec<u8>);
    let lat_ref = if exif.position.lat < 0.0 { "S" } else { "N" };
    let lon_ref = if exif.position.lon < 0.0 { "W" } else { "E" };
    let exif_ifd: Vec<Entry> = vec![
        (0x9003, 2, 20, ascii(exif.taken_local)),
        (0x9011, 2, 7, ascii(exif.offset)),
    ];
    let gps_ifd: Vec<Entry> = vec![
        (1, 2, 2, ascii(lat_ref)),
        (2, 5, 3, rational3(exif.position.lat)),
        (3, 2, 2, ascii(lon_ref)),
        (4, 5, 3, rational3(exif.position.lon)),
    ];
    let size = |ifd_len: usize| 2 + 12 * ifd_len + 4;
    let ifd0_at = 8u32;
    let exif_at = ifd0_at + size(3) as u32;
    let gps_at = exif_at + size(exif_ifd.len()) as u32;
    let mut data_at = gps_at + size(gps_ifd.len()) as u32;
    let ifd0: Vec<Entry> = vec![
        (
            0x0110,
            2,
            (exif.camera.len() + 1) as u32,
            ascii(exif.camera),
        ),
        (0x8769, 4, 1, exif_at.to_le_bytes().to_vec()),
        (0x8825, 4, 1, gps_at.to_le_bytes().to_vec()),
    ];
    let mut tiff: Vec<u8> = b"II\x2a\x00".to_vec();
    tiff.extend_from_slice(&ifd0_at.to_le_bytes());
    let mut data = Vec::new();
    for ifd in [&ifd0, &exif_ifd, &gps_ifd] {
        tiff.extend_from_slice(&(ifd.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in ifd.iter() {
            tiff.extend_from_slice(&tag.to_le_bytes());
            tiff.extend_from_slice(&kind.to_le_bytes());
            tiff.extend_from_slice(&count.to_le_bytes());
            if value.len() <= 4 {
                let mut inline = value.clone();
                inline.resize(4, 0);
                tiff.extend_from_slice(&inline);
            } else {
                tiff.extend_from_slice(&data_at.to_le_bytes());
                data.extend_from_slice(value);
                if value.len() % 2 == 1 {
                    data.push(0);
                }
                data_at = 8
                    + size(3) as u32
                    + size(exif_ifd.len()) as u32
                    + size(gps_ifd.len()) as u32
                    + data.len() as u32;
            }
        }
        tiff.extend_from_slice(&0u32.to_le_bytes());
    }
    tiff.extend(data);
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(
        &u16::try_from(2 + 6 + tiff.len())
            .map_err(|_| MediaError::Broken)?
            .to_be_bytes(),
    );
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Against the real photos in `tests/fixtures/photos/` (see its README).
    use super::*;

    fn photo(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/photos")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
    }

    /// Mean absolute difference per channel between two same-sized pictures (0–255).
    fn difference(a: &[u8], b: &[u8]) -> f64 {
        let a = image::load_from_memory(a).unwrap().into_rgb8();
        let b = image::load_from_memory(b).unwrap().into_rgb8();
        assert_eq!(a.dimensions(), b.dimensions());
        let total: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        total as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn every_orientation_comes_out_upright() {
        for set in ["landscape", "portrait"] {
            let reference = process(&photo(&format!("{set}_1.jpg")), &Limits::default()).unwrap();
            let (rw, rh) = (reference.display.width, reference.display.height);
            assert_eq!(set == "landscape", rw > rh, "{set} shape");
            // What a wrong orientation looks like: the reference upside down.
            let mut flipped = image::load_from_memory(&reference.display.jpeg).unwrap();
            flipped.apply_orientation(Orientation::Rotate180);
            let mut wrong = Vec::new();
            flipped
                .write_to(&mut Cursor::new(&mut wrong), ImageFormat::Png)
                .unwrap();
            let wrong_diff = difference(&wrong, &reference.display.jpeg);
            for n in 2..=8 {
                let p = process(&photo(&format!("{set}_{n}.jpg")), &Limits::default()).unwrap();
                assert_eq!(p.meta.orientation, n as u8, "{set}_{n} orientation read");
                assert_eq!(
                    (p.display.width, p.display.height),
                    (rw, rh),
                    "{set}_{n} size"
                );
                let d = difference(&p.display.jpeg, &reference.display.jpeg);
                assert!(
                    d < wrong_diff / 3.0,
                    "{set}_{n}: difference {d:.1} (upside down would be {wrong_diff:.1})"
                );
                assert!(p.thumb.width.max(p.thumb.height) <= THUMB_EDGE);
            }
        }
    }

    #[test]
    fn gps_time_and_camera() {
        let p = process(&photo("DSCN0010.jpg"), &Limits::default()).unwrap();
        let pos = p.meta.position.unwrap();
        assert!((pos.lat - 43.467448).abs() < 1e-5 && (pos.lon - 11.885127).abs() < 1e-5);
        assert_eq!(p.meta.taken_local.as_deref(), Some("2008-10-22T16:28:39"));
        assert!(p.meta.camera.as_deref().unwrap_or("").contains("P6000"));
        let hdr = process(&photo("ultrahdr.jpg"), &Limits::default()).unwrap();
        let pos = hdr.meta.position.unwrap();
        assert!((pos.lat - 30.62765).abs() < 1e-4 && (pos.lon - 119.738767).abs() < 1e-4);
        assert_eq!(hdr.meta.taken_local.as_deref(), Some("2024-05-07T09:33:04"));
        assert_eq!(hdr.display.width.max(hdr.display.height), DISPLAY_EDGE);
        let canon = process(&photo("Canon_40D.jpg"), &Limits::default()).unwrap();
        assert_eq!(canon.meta.position, None, "a GPS block without coordinates");
        assert!(canon.meta.taken_local.is_some());
    }

    #[test]
    fn odd_but_valid_pictures_work() {
        for f in ["image01551.jpg", "app13-multiple.jpg", "transparent.png"] {
            let p = process(&photo(f), &Limits::default()).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(p.display.width > 0, "{f}");
            assert!(
                image::load_from_memory(&p.thumb.jpeg).is_ok(),
                "{f}: thumbnail decodes"
            );
            let again = read_meta(&p.display.jpeg);
            assert_eq!(
                again,
                PhotoMeta {
                    orientation: 1,
                    ..Default::default()
                },
                "{f}: no metadata kept"
            );
        }
        assert_eq!(
            process(&photo("image01551.jpg"), &Limits::default())
                .unwrap()
                .meta
                .orientation,
            1
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let l = Limits::default();
        assert_eq!(
            process(&photo("truncated_image.png"), &l).unwrap_err(),
            MediaError::Broken
        );
        assert_eq!(
            process(&photo("decompression_bomb.gif"), &l).unwrap_err(),
            MediaError::UnknownType
        );
        assert_eq!(
            process(&photo("samplefilehub.heif"), &l).unwrap_err(),
            MediaError::Heic
        );
        assert_eq!(process(b"", &l).unwrap_err(), MediaError::Empty);
        assert_eq!(
            process(b"hello, I am text", &l).unwrap_err(),
            MediaError::UnknownType
        );
        assert_eq!(
            process(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", &l).unwrap_err(),
            MediaError::UnknownType
        );
        assert_eq!(
            process(b"<!doctype html><html></html>", &l).unwrap_err(),
            MediaError::UnknownType
        );
        let small = Limits { max_bytes: 10, ..l };
        assert_eq!(
            process(&photo("Canon_40D.jpg"), &small).unwrap_err(),
            MediaError::TooLarge
        );
    }

    #[test]
    fn headers_claiming_huge_pictures_are_refused_before_decoding() {
        // A PNG whose IHDR says 60000×60000 (with a correct CRC), and nothing after it.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        let result = process(&png, &Limits::default()).map(|_| ());
        assert_eq!(result, Err(MediaError::TooManyPixels(60000, 60000)));
        // A JPEG whose frame header says 60000×60000: a real small JPEG with its SOF patched.
        let mut jpeg = photo("Canon_40D.jpg");
        // Walk the segments to the main frame header (the EXIF thumbnail has its own).
        let mut i = 2;
        while !(0xC0..=0xC3).contains(&jpeg[i + 1]) {
            i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        }
        jpeg[i + 5..i + 7].copy_from_slice(&60000u16.to_be_bytes());
        jpeg[i + 7..i + 9].copy_from_slice(&60000u16.to_be_bytes());
        let result = process(&jpeg, &Limits::default()).map(|_| ());
        assert_eq!(result, Err(MediaError::TooManyPixels(60000, 60000)));
    }

    /// A small JPEG carrying an EXIF GPS block for 34°36'12" S, 58°22'54" W (Buenos Aires).
    fn south_west_jpeg() -> Vec<u8> {
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(&[128u8; 64 * 48 * 3], 64, 48, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let mut tiff: Vec<u8> = b"II\x2a\x00".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
            let mut e = tag.to_le_bytes().to_vec();
            e.extend_from_slice(&kind.to_le_bytes());
            e.extend_from_slice(&count.to_le_bytes());
            e.extend_from_slice(&value);
            e
        };
        // IFD0: one entry pointing at the GPS IFD (at 26).
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend(entry(0x8825, 4, 1, 26u32.to_le_bytes()));
        tiff.extend_from_slice(&0u32.to_le_bytes());
        // GPS IFD: four entries, rationals after it (at 80 and 104).
        tiff.extend_from_slice(&4u16.to_le_bytes());
        tiff.extend(entry(1, 2, 2, *b"S\0\0\0"));
        tiff.extend(entry(2, 5, 3, 80u32.to_le_bytes()));
        tiff.extend(entry(3, 2, 2, *b"W\0\0\0"));
        tiff.extend(entry(4, 5, 3, 104u32.to_le_bytes()));
        tiff.extend_from_slice(&0u32.to_le_bytes());
        for (d, m, sec) in [(34u32, 36u32, 12u32), (58, 22, 54)] {
            for v in [d, m, sec] {
                tiff.extend_from_slice(&v.to_le_bytes());
                tiff.extend_from_slice(&1u32.to_le_bytes());
            }
        }
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend(app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn made_exif_reads_back() {
        let rgb = vec![90u8; 32 * 24 * 3];
        let made = MadeExif {
            taken_local: "2026:11:20 18:30:00",
            offset: "+09:00",
            position: LatLon::new(34.4813, 136.8434).unwrap(),
            camera: "Sonae demo",
        };
        let jpeg = jpeg_with_exif(&rgb, 32, 24, &made).unwrap();
        let m = read_meta(&jpeg);
        assert_eq!(m.taken_local.as_deref(), Some("2026-11-20T18:30:00"));
        assert_eq!(m.offset.as_deref(), Some("+09:00"));
        assert_eq!(m.taken_at, Some(1_795_167_000_000), "2026-11-20T09:30:00Z");
        assert_eq!(m.camera.as_deref(), Some("Sonae demo"));
        let p = m.position.unwrap();
        assert!(
            (p.lat - 34.4813).abs() < 1e-5 && (p.lon - 136.8434).abs() < 1e-5,
            "{p:?}"
        );
        let south = jpeg_with_exif(
            &rgb,
            32,
            24,
            &MadeExif {
                position: LatLon::new(-34.6, -58.38).unwrap(),
                ..made
            },
        )
        .unwrap();
        let p = read_meta(&south).position.unwrap();
        assert!(p.lat < 0.0 && p.lon < 0.0);
    }

    #[test]
    fn south_and_west_are_negative() {
        let p = process(&south_west_jpeg(), &Limits::default()).unwrap();
        let pos = p.meta.position.expect("GPS read");
        assert!((pos.lat - -34.603333).abs() < 1e-5, "{pos:?}");
        assert!((pos.lon - -58.381667).abs() < 1e-5, "{pos:?}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
