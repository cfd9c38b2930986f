"""Media content parts (images, audio, files) -> Gemini `inlineData` / `fileData` parts."""
from urllib.parse import urlsplit

from gateway import exceptions as exc

# Types Gemini documents for each kind of input, by file extension.
_IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp",
                "heic": "image/heic", "heif": "image/heif"}
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3", "aiff": "audio/aiff", "aac": "audio/aac",
                "ogg": "audio/ogg", "flac": "audio/flac"}
_FILE_TYPES = {"pdf": "application/pdf", "txt": "text/plain", "md": "text/md", "html": "text/html",
               "htm": "text/html", "csv": "text/csv", "xml": "text/xml", "json": "application/json",
               **_IMAGE_TYPES, **_AUDIO_TYPES}
_FILES_API = ("https://generativelanguage.googleapis.com/", "files/")


def _data_url(url: str, param: str) -> tuple[str, str]:
    """`data:<mime>;base64,<data>` -> (mime, data)."""
    head, sep, data = url.partition(",")
    if not sep or not head.endswith(";base64") or not data:
        raise exc.InvalidRequest("A data URL must look like data:<mime type>;base64,<data>.", param=param)
    return head[len("data:"):-len(";base64")].strip().lower(), data


def _extension(name: str) -> str:
    path = urlsplit(name).path if "://" in name else name
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def image_part(image: dict, param: str) -> dict:
    url = image.get("url") or ""
    if url.startswith("data:"):
        mime, data = _data_url(url, param)
        if mime not in _IMAGE_TYPES.values():
            raise exc.InvalidRequest(f"Gemini cannot read images of type '{mime}'.", param=param)
        return {"inlineData": {"mimeType": mime, "data": data}}
    if url.startswith(("https://", "http://", "gs://")):
        mime = _IMAGE_TYPES.get(_extension(url))
        if mime is None:
            raise exc.InvalidRequest("Gemini needs the type of an image given by URL and this URL does not end in "
                                     f"one of .{', .'.join(_IMAGE_TYPES)}; send it as a data URL instead.",
                                     param=param)
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise exc.InvalidRequest("An image URL must be a data URL or an https:// or gs:// URL.", param=param)


def audio_part(audio: dict, param: str) -> dict:
    fmt = str(audio.get("format") or "").lower()
    if fmt not in _AUDIO_TYPES:
        raise exc.InvalidRequest(f"Gemini cannot read audio in the format '{fmt}'; it takes "
                                 f"{', '.join(_AUDIO_TYPES)}.", param=f"{param}.format")
    return {"inlineData": {"mimeType": _AUDIO_TYPES[fmt], "data": audio.get("data") or ""}}


def file_part(file: dict, param: str) -> dict:
    name = file.get("filename") or ""
    data = file.get("file_data")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            mime, payload = _data_url(data, f"{param}.file_data")
        else:
            mime, payload = _FILE_TYPES.get(_extension(name), "application/pdf"), data
        return {"inlineData": {"mimeType": mime, "data": payload}}
    file_id = file.get("file_id")
    if isinstance(file_id, str) and file_id.startswith(_FILES_API):
        uri = file_id if file_id.startswith("https://") else f"{_FILES_API[0]}v1beta/{file_id}"
        ref = {"fileUri": uri}
        mime = _FILE_TYPES.get(_extension(name))
        if mime:
            ref = {"mimeType": mime, **ref}
        return {"fileData": ref}
    if file_id:
        raise exc.InvalidRequest("Gemini can only read files uploaded to its own Files API (files/...).",
                                 param=f"{param}.file_id")
    raise exc.InvalidRequest("A file part needs file_data or file_id.", param=param)
