"""``mode='reference'``: Hendrycks' published ImageNet-C protocol in NumPy/SciPy/
scikit-image/OpenCV/Wand (the libraries ``make_imagenet_c.py`` used), generalised from
its hard-coded 224 px to any size. Needs the ``robustness`` extra; Wand needs ImageMagick.

Differences from imagecorruptions that are kept on purpose (published behaviour):
ImageMagick motion blur (motion_blur, snow), centred ``clipped_zoom`` trim, the affine +
absolute-constant elastic transform, BOX up-sampling in pixelate, frost1-5 only (``randint(5)``),
no frost rescaling unless the image is larger than the texture.
Randomness comes from a per-image ``numpy.random.Generator``, not the global state.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from assembled_cnn.robustness.corruptions import blur, digital, noise, weather
from assembled_cnn.robustness.corruptions.registry import get_spec


def _require(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        raise ImportError(f"mode='reference' needs {module!r}: pip install 'assembled-cnn[robustness]'"
                          " (and apt-get install libmagickwand-dev for Wand)") from error


def _gaussian(x: np.ndarray, sigma, **kwargs) -> np.ndarray:
    filters = _require("skimage.filters")
    if x.ndim == 3:
        kwargs.setdefault("channel_axis", -1)
    return filters.gaussian(x, sigma=sigma, **kwargs)


def _wand_motion_blur(gray_or_rgb_u8: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick ``MagickMotionBlurImage`` through a PNG round trip, as published."""
    import ctypes

    wand_image = _require("wand.image")
    library = _require("wand.api").library
    library.MagickMotionBlurImage.argtypes = (ctypes.c_void_p, ctypes.c_double,
                                              ctypes.c_double, ctypes.c_double)
    buffer = io.BytesIO()
    Image.fromarray(gray_or_rgb_u8).save(buffer, format="PNG")
    with wand_image.Image(blob=buffer.getvalue()) as picture:
        library.MagickMotionBlurImage(picture.wand, radius, sigma, angle)
        blob = picture.make_blob("png")
    return np.asarray(Image.open(io.BytesIO(blob)).convert("L" if gray_or_rgb_u8.ndim == 2 else "RGB"))


def _centred_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    scizoom = _require("scipy.ndimage").zoom
    height, width = x.shape[:2]
    crop_h, crop_w = int(np.ceil(height / factor)), int(np.ceil(width / factor))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    zoomed = scizoom(x[top:top + crop_h, left:left + crop_w], (factor, factor, 1), order=1)
    trim_h, trim_w = (zoomed.shape[0] - height) // 2, (zoomed.shape[1] - width) // 2
    return zoomed[trim_h:trim_h + height, trim_w:trim_w + width]


def _noise(x, severity, rng, name):
    x = x / 255.0
    if name == "gaussian_noise":
        return x + rng.normal(size=x.shape, scale=noise.GAUSSIAN_NOISE_SIGMA[severity - 1])
    if name == "shot_noise":
        photons = noise.SHOT_NOISE_PHOTONS[severity - 1]
        return rng.poisson(x * photons) / photons
    if name == "speckle_noise":
        return x + x * rng.normal(size=x.shape, scale=noise.SPECKLE_NOISE_SIGMA[severity - 1])
    util = _require("skimage.util")
    return util.random_noise(x, mode="s&p", amount=noise.IMPULSE_NOISE_AMOUNT[severity - 1], rng=rng)


def _glass_blur(x, severity, rng):
    sigma, delta, iterations = blur.GLASS_SIGMA_DELTA_ITERS[severity - 1]
    x = np.uint8(_gaussian(x / 255.0, sigma) * 255)
    height, width = x.shape[:2]
    for _ in range(iterations):
        for h in range(height - delta, delta, -1):
            for w in range(width - delta, delta, -1):
                dx, dy = rng.integers(-delta, delta, size=2)
                x[h, w] = x[h + dy, w + dx]  # the published "swap" copies (view aliasing)
    return _gaussian(x / 255.0, sigma)


def _defocus_blur(x, severity, rng):
    cv2 = _require("cv2")
    kernel = blur.defocus_kernel(*blur.DEFOCUS_RADIUS_ALIAS[severity - 1]).astype(np.float32)
    x = (x / 255.0).astype(np.float32)
    return np.stack([cv2.filter2D(x[..., d], -1, kernel) for d in range(3)], axis=-1)


def _motion_blur(x, severity, rng):
    radius, sigma = blur.MOTION_RADIUS_SIGMA[severity - 1]
    return _wand_motion_blur(x, radius, sigma, rng.uniform(-45, 45)) / 255.0


def _zoom_blur(x, severity, rng):
    x = (x / 255.0).astype(np.float32)
    factors = blur.zoom_factors(severity)
    total = x + sum(_centred_zoom(x, float(f)) for f in factors)
    return total / (len(factors) + 1)


def _snow(x, severity, rng):
    cv2 = _require("cv2")
    loc, scale, zoom, threshold, radius, sigma, keep = weather.SNOW_PARAMS[severity - 1]
    x = x.astype(np.float32) / 255.0
    layer = _centred_zoom(rng.normal(size=x.shape[:2] + (1,), loc=loc, scale=scale), zoom)
    layer[layer < threshold] = 0
    layer_u8 = (np.clip(layer[..., 0], 0, 1) * 255).astype(np.uint8)
    layer = _wand_motion_blur(layer_u8, radius, sigma, rng.uniform(-135, -45))[..., None] / 255.0
    gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
    x = keep * x + (1 - keep) * np.maximum(x, gray * 1.5 + 0.5)
    return x + layer + np.rot90(layer, k=2)


def _frost(x, severity, rng):
    cv2 = _require("cv2")
    image_weight, frost_weight = weather.FROST_IMAGE_WEIGHTS[severity - 1]
    texture = weather.frost_textures()[rng.integers(5)].astype(np.float32)
    height, width = x.shape[:2]
    grow = max(1.0, height / texture.shape[0], width / texture.shape[1])
    if grow > 1.0:
        size = (int(np.ceil(texture.shape[1] * grow)), int(np.ceil(texture.shape[0] * grow)))
        texture = cv2.resize(texture, size, interpolation=cv2.INTER_CUBIC)
    top = rng.integers(0, max(texture.shape[0] - height, 1))
    left = rng.integers(0, max(texture.shape[1] - width, 1))
    crop = texture[top:top + height, left:left + width]
    return (image_weight * x + frost_weight * crop) / 255.0


def _fog(x, severity, rng):
    strength, decay = weather.FOG_STRENGTH_DECAY[severity - 1]
    height, width = x.shape[:2]
    map_size = 1 << (max(height, width) - 1).bit_length()
    fractal = _plasma_fractal(map_size, decay, rng)[:height, :width, None]
    x = x / 255.0
    max_value = x.max()
    return (x + strength * fractal) * max_value / (max_value + strength)


def _plasma_fractal(map_size: int, decay: float, rng) -> np.ndarray:
    """Diamond-square on a torus (the published algorithm, written level by level)."""
    grid = np.zeros((1, 1))
    wibble = 100.0
    while grid.shape[0] < map_size:
        n = grid.shape[0]

        def jitter(total):
            return total / 4 + wibble * rng.uniform(-wibble, wibble, (n, n))

        square = grid + np.roll(grid, -1, 0)
        centres = jitter(square + np.roll(square, -1, 1))
        row_edges = jitter(centres + np.roll(centres, 1, 0) + grid + np.roll(grid, -1, 1))
        col_edges = jitter(centres + np.roll(centres, 1, 1) + grid + np.roll(grid, -1, 0))
        finer = np.empty((2 * n, 2 * n))
        finer[0::2, 0::2], finer[0::2, 1::2] = grid, row_edges
        finer[1::2, 0::2], finer[1::2, 1::2] = col_edges, centres
        grid = finer
        wibble /= decay
    grid -= grid.min()
    return grid / grid.max()


def _spatter(x, severity, rng):
    cv2 = _require("cv2")
    loc, scale, sigma, threshold, intensity, is_mud = weather.SPATTER_PARAMS[severity - 1]
    x = x.astype(np.float32) / 255.0
    liquid = _gaussian(rng.normal(size=x.shape[:2], loc=loc, scale=scale), sigma)
    liquid[liquid < threshold] = 0
    if is_mud:
        mask = _gaussian((liquid > threshold).astype(np.float32), intensity)
        mask[mask < 0.8] = 0
        return x * (1 - mask[..., None]) + np.array(weather.MUD_COLOR) * mask[..., None]
    liquid_u8 = (liquid * 255).astype(np.uint8)
    dist = cv2.distanceTransform(255 - cv2.Canny(liquid_u8, 50, 150), cv2.DIST_L2, 5)
    dist = cv2.blur(np.minimum(dist, 20.0), (3, 3)).astype(np.uint8)
    dist = cv2.filter2D(cv2.equalizeHist(dist), cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    dist = cv2.blur(dist, (3, 3)).astype(np.float32)
    mask = liquid_u8 * dist
    mask = mask / max(float(mask.max()), 1e-12) * intensity
    return x + mask[..., None] * np.array(weather.WATER_COLOR)


def _hsv_edit(x, channel: int, scale: float, shift: float):
    color = _require("skimage.color")
    hsv = color.rgb2hsv(x / 255.0)
    hsv[..., channel] = np.clip(hsv[..., channel] * scale + shift, 0, 1)
    return color.hsv2rgb(hsv)


def _elastic_transform(x, severity, rng):
    """Published variant: random affine then a smoothed displacement field; the constants
    are absolute (scaled by 244 for 224 px images) exactly as released."""
    cv2 = _require("cv2")
    map_coordinates = _require("scipy.ndimage").map_coordinates
    alpha, sigma, affine = [(244 * 2, 244 * 0.7, 244 * 0.1), (244 * 2, 244 * 0.08, 244 * 0.2),
                            (244 * 0.05, 244 * 0.01, 244 * 0.02), (244 * 0.07, 244 * 0.01, 244 * 0.02),
                            (244 * 0.12, 244 * 0.01, 244 * 0.02)][severity - 1]
    image = x.astype(np.float32) / 255.0
    height, width = image.shape[:2]
    centre = np.float32([height, width]) // 2
    half = min(height, width) // 3
    src = np.float32([centre + half, [centre[0] + half, centre[1] - half], centre - half])
    dst = src + rng.uniform(-affine, affine, size=src.shape).astype(np.float32)
    warp = cv2.getAffineTransform(src, dst)
    image = cv2.warpAffine(image, warp, (width, height), borderMode=cv2.BORDER_REFLECT_101)
    d_col, d_row = [(_gaussian(rng.uniform(-1, 1, size=(height, width)), sigma, mode="reflect",
                               truncate=3) * alpha).astype(np.float32) for _ in range(2)]
    rows, cols, chans = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    coords = [(rows + d_row[..., None]).ravel(), (cols + d_col[..., None]).ravel(), chans.ravel()]
    return map_coordinates(image, coords, order=1, mode="reflect").reshape(image.shape)


def _pil_digital(x, severity, name):
    picture = Image.fromarray(x)
    height, width = x.shape[:2]
    if name == "jpeg_compression":
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=digital.JPEG_QUALITY[severity - 1])
        return np.asarray(Image.open(buffer)) / 255.0
    factor = digital.PIXELATE_FACTOR[severity - 1]
    small = picture.resize((int(width * factor), int(height * factor)), Image.BOX)
    return np.asarray(small.resize((width, height), Image.BOX)) / 255.0


def _dispatch(x, name, severity, rng):
    if name in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"):
        return _noise(x, severity, rng, name)
    if name in ("jpeg_compression", "pixelate"):
        return _pil_digital(x, severity, name)
    if name == "brightness":
        return _hsv_edit(x, 2, 1.0, digital.BRIGHTNESS_SHIFT[severity - 1])
    if name == "saturate":
        return _hsv_edit(x, 1, *digital.SATURATE_SCALE_SHIFT[severity - 1])
    if name == "contrast":
        x = x / 255.0
        means = x.mean(axis=(0, 1), keepdims=True)
        return (x - means) * digital.CONTRAST_FACTOR[severity - 1] + means
    if name == "gaussian_blur":
        return _gaussian(x / 255.0, blur.GAUSSIAN_BLUR_SIGMA[severity - 1])
    handlers = {"glass_blur": _glass_blur, "defocus_blur": _defocus_blur,
                "motion_blur": _motion_blur, "zoom_blur": _zoom_blur, "snow": _snow,
                "frost": _frost, "fog": _fog, "spatter": _spatter,
                "elastic_transform": _elastic_transform}
    return handlers[name](x, severity, rng)


def corrupt_reference(image_u8: np.ndarray, name: str, severity: int, rng) -> np.ndarray:
    """One ``[H, W, 1|3]`` uint8 image -> float 0..255 with the input's channel count."""
    gray = image_u8.shape[-1] == 1
    rgb = np.repeat(image_u8, 3, axis=-1) if gray else image_u8
    out = np.clip(_dispatch(np.ascontiguousarray(rgb), name, severity, rng), 0, 1) * 255
    if gray:
        out = out @ (np.array([0.2989, 0.5870, 0.1140]) / 0.9999)
        out = out[..., None]
    return out


def corrupt_reference_batch(images: np.ndarray, name: str, severity: int, seed: int = 0,
                            index: int = 0) -> np.ndarray:
    """Batch ``[B, H, W, C]`` (any numeric dtype 0..255) with per-image generators keyed by
    (seed, corruption number, severity, index + b)."""
    number = get_spec(name).number
    pixels = np.clip(np.round(np.asarray(images, np.float64)), 0, 255).astype(np.uint8)
    out = []
    for offset, image in enumerate(pixels):
        rng = np.random.default_rng([seed, number, severity, index + offset])
        out.append(corrupt_reference(image, name, severity, rng))
    return np.stack(out).astype(np.float32)
