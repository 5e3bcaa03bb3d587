"""Korean for the error reasons and hints the lower layers raise in English (``JikimiError`` reason, hint).

The lower layers (media, face signal, stores, takedown, cases, uploads) write their reasons as English
f-strings with values inside. The web pages show them through :func:`translate_reason`, which matches each
message against a catalogue of anchored patterns and rebuilds it in Korean with the same values; anything it
cannot match is shown unchanged. The JSON API keeps the English text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from jikimi.web.i18n import translator

# -- shapes of the values inside the messages --
_LABEL = r"[A-Z0-9]{2,12}(?: file| video)?"  # "JPEG", "PNG file", "MP4 video"
_SIZE = r"\d+(?:\.\d+)? (?:bytes|KB|MB|GB|TB)"  # jikimi.media.types.human_size
_MP = r"\d+(?:\.\d+)?"  # megapixels(), without " MP"
_DUR = r"\d+(?:\.\d+)? s|\d+ min \d+ s|\d+ h \d+ min"  # jikimi.media.types.human_duration
_QUOTED = r"'[^\n]*'|\"[^\n]*\""  # a value shown with !r
_STATE = r"[a-z_]+"
_HASH = r"PDQ|MD5|SHA-256"
_UNKNOWN = {  # jikimi.media.sniff.describe_unknown
    "empty": "빈 파일",
    "looks like HTML/XML text": "HTML/XML 텍스트로 보입니다",
    "looks like a PDF document": "PDF 문서로 보입니다",
    "looks like a ZIP archive": "ZIP 압축 파일로 보입니다",
    "looks like text": "텍스트 파일로 보입니다",
    "unrecognised binary data": "알 수 없는 바이너리 데이터입니다",
}
_UNKNOWN_RE = "|".join(re.escape(k) for k in _UNKNOWN)

# (pattern, Korean template): the pattern must match the whole message; named groups carry the values over.
# More specific patterns come before the general ones they overlap with (the first full match wins).
_ENTRIES: list[tuple[str, str]] = [
    # -- jikimi.media: reading images and videos (uploads, scans, bank files, enrolment photos) --
    (r"empty file \(0 bytes\)", "빈 파일입니다(0바이트)"),
    (
        rf"file is (?P<size>{_SIZE}), over the (?P<limit>{_SIZE}) limit",
        "파일 크기({size})가 한도({limit})를 넘습니다",
    ),
    (
        rf"image file is (?P<size>{_SIZE}), over the (?P<limit>{_SIZE}) limit",
        "이미지 파일 크기({size})가 한도({limit})를 넘습니다",
    ),
    (
        r"raise Limits\.(?P<field>max_\w+) \((?P<env>JIKIMI_MEDIA_MAX_\w+)\) to accept it",
        "이 파일을 받으려면 관리자가 Limits.{field} 값(환경 변수 {env})을 올려야 합니다",
    ),
    (
        r"raise Limits\.(?P<field>max_\w+) \((?P<env>JIKIMI_MEDIA_MAX_\w+)\) if this file is trusted",
        "믿을 수 있는 파일이라면 관리자가 Limits.{field} 값(환경 변수 {env})을 올려야 합니다",
    ),
    (rf"not an image or video \((?P<unknown>{_UNKNOWN_RE})\)", "이미지나 동영상 파일이 아닙니다({unknown})"),
    (
        r"image declares an empty size \((?P<w>-?\d+)x(?P<h>-?\d+)\)",
        "이미지에 기록된 크기가 비어 있습니다({w}x{h})",
    ),
    (
        rf"image is (?P<w>\d+)x(?P<h>\d+), over the (?P<mp>{_MP}) MP limit",
        "이미지가 {w}x{h}로 {mp} MP 한도를 넘습니다",
    ),
    (
        rf"(?P<label>{_LABEL}) declares an image over the (?P<mp>{_MP}) MP limit",
        "{label} 파일에 기록된 이미지 크기가 {mp} MP 한도를 넘습니다",
    ),
    (r"image is (?P<w>\d+)x(?P<h>\d+), over the limit", "이미지가 {w}x{h}로 크기 한도를 넘습니다"),
    (
        rf"(?P<label>{_LABEL}) is too large to decode in memory",
        "{label} 파일이 너무 커서 메모리에서 디코딩할 수 없습니다",
    ),
    (
        rf"truncated (?P<label>{_LABEL}) \(the file ends before the picture does\)",
        "{label} 파일이 잘려 있습니다(그림이 끝나기 전에 파일이 끝납니다)",
    ),
    (
        rf"damaged (?P<label>{_LABEL}) header \((?P<detail>.*)\)",
        "{label} 파일의 헤더가 손상되었습니다({detail})",
    ),
    (
        rf"damaged (?P<label>{_LABEL}) data \(the first frame cannot be decoded\)",
        "{label} 파일의 데이터가 손상되었습니다(첫 프레임을 디코딩할 수 없습니다)",
    ),
    (
        rf"damaged (?P<label>{_LABEL}) data at frame (?P<n>\d+) \((?P<detail>.*)\)",
        "{label} 파일의 {n}번 프레임 데이터가 손상되었습니다({detail})",
    ),
    (
        rf"damaged (?P<label>{_LABEL}) data \((?P<detail>.*)\)",
        "{label} 파일의 데이터가 손상되었습니다({detail})",
    ),
    (
        rf"damaged (?P<label>{_LABEL}) animation at frame (?P<n>\d+) \((?P<detail>.*)\)",
        "{label} 애니메이션의 {n}번 프레임이 손상되었습니다({detail})",
    ),
    (
        rf"damaged (?P<label>{_LABEL}) animation \((?P<detail>.*)\)",
        "{label} 애니메이션이 손상되었습니다({detail})",
    ),
    (
        r"cannot convert colour mode (?P<mode>\S+) to RGB \((?P<detail>.*)\)",
        "색상 모드 {mode}에서 RGB로 변환할 수 없습니다({detail})",
    ),
    (
        rf"damaged or unreadable (?P<label>{_LABEL}) \(FFmpeg cannot parse the container\)",
        "{label} 파일이 손상되었거나 읽을 수 없습니다(FFmpeg이 컨테이너를 해석하지 못합니다)",
    ),
    (rf"unreadable (?P<label>{_LABEL}) \((?P<detail>.*)\)", "{label} 파일을 읽을 수 없습니다({detail})"),
    (
        rf"(?P<label>{_LABEL}) has no video stream \(audio only or empty\)",
        "{label} 파일에 영상 스트림이 없습니다(오디오만 있거나 비어 있습니다)",
    ),
    (
        rf"(?P<label>{_LABEL}) declares no frame size \(damaged header\)",
        "{label} 파일에 프레임 크기 정보가 없습니다(헤더 손상)",
    ),
    (
        rf"video is (?P<w>\d+)x(?P<h>\d+), over the (?P<mp>{_MP}) MP frame limit",
        "동영상 프레임이 {w}x{h}로 {mp} MP 한도를 넘습니다",
    ),
    (
        rf"video is (?P<dur>{_DUR}) long, over the (?P<dur_limit>{_DUR}) limit",
        "동영상 길이({dur})가 한도({dur_limit})를 넘습니다",
    ),
    (
        rf"(?P<label>{_LABEL}) contains no decodable frames",
        "{label} 파일에 디코딩할 수 있는 프레임이 없습니다",
    ),
    (
        r"video frame (?P<n>\d+) is (?P<w>\d+)x(?P<h>\d+), over the limit",
        "동영상의 {n}번 프레임이 {w}x{h}로 크기 한도를 넘습니다",
    ),
    (
        r"animation has (?P<n>\d+) frames, over the (?P<limit>\d+) frame limit",
        "애니메이션 프레임 수({n}개)가 한도({limit}개)를 넘습니다",
    ),
    (rf"animation is (?P<dur>{_DUR}) long, over the limit", "애니메이션 길이({dur})가 한도를 넘습니다"),
    # -- jikimi.signals.face --
    (
        r"the dlib face models could not be loaded: (?P<detail>.+)",
        "dlib 얼굴 인식 모델을 불러오지 못했습니다: {detail}",
    ),
    (
        r"install dlib-bin and face_recognition_models \(see requirements\.lock\)",
        "dlib-bin과 face_recognition_models를 설치하세요(requirements.lock 참고)",
    ),
    (
        r"image too small to hold a face \((?P<w>\d+)x(?P<h>\d+) pixels\)",
        "이미지가 너무 작아 얼굴이 담길 수 없습니다({w}x{h}픽셀)",
    ),
    # -- enrolment: jikimi.api.routers.people and jikimi.store.people --
    (
        r"enrolment refused: the consent form was not confirmed",
        "등록이 거부되었습니다: 동의 확인란에 체크하지 않았습니다",
    ),
    (
        r"tick the box confirming the person \(or a guardian\) consented to face search",
        "본인(또는 보호자)이 얼굴 검색에 동의했음을 확인하는 칸에 체크하세요",
    ),
    (r"no photo uploaded", "올린 사진이 없습니다"),
    (r"add one or more photos showing the person's face", "본인의 얼굴이 나온 사진을 한 장 이상 올려 주세요"),
    (r"enrolment refused: no consent record", "등록이 거부되었습니다: 동의 기록이 없습니다"),
    (
        r"say who gave consent for face search with --consent-by "
        r"\(the person, or a guardian for a minor\)",
        "얼굴 검색에 누가 동의했는지 '동의한 사람' 칸에 적어 주세요(본인, 미성년자라면 보호자)",
    ),
    (r"the person's name is empty", "이름이 비어 있습니다"),
    (r"give a name or a case pseudonym", "이름이나 사건 가명을 입력하세요"),
    (
        r"the consent expiry (?P<date>\d{4}-\d{2}-\d{2}) is not in the future",
        "동의 유효 기한({date})이 미래 날짜가 아닙니다",
    ),
    (r"give a later --expires date", "동의 유효 기한을 더 나중 날짜로 입력하세요"),
    (r"is a video or an animation", "동영상이나 애니메이션입니다"),
    (r"enrol from still photos of the person", "본인이 나온 정지 사진으로 등록하세요"),
    (r"no face found in this photo", "이 사진에서 얼굴을 찾지 못했습니다"),
    (
        r"use a clear, front-facing photo where the face is at least ~80 pixels wide, "
        r"or try --detector cnn or --upsample 2",
        "얼굴 너비가 80픽셀 이상인 선명한 정면 사진을 쓰거나, --detector cnn 또는 --upsample 2 옵션으로 "
        "다시 시도하세요",
    ),
    (
        r"this photo shows (?P<n>\d+) faces \((?P<where>.+), numbered left to right\)",
        "이 사진에는 얼굴이 {n}개 있습니다({where}, 왼쪽부터 번호를 매김)",
    ),
    (
        r"choose the person's face with --face N, or use a photo of the person alone",
        "--face N 옵션으로 본인의 얼굴을 고르거나, 본인만 나온 사진을 쓰세요",
    ),
    (
        r"nobody enrolled: no usable face \((?P<failures>.+)\)",
        "아무도 등록하지 못했습니다. 쓸 수 있는 얼굴이 없습니다({failures})",
    ),
    (r"photo #(?P<n>\d+)", "사진 {n}"),  # the name of an uploaded photo in the reasons above
    (r"no person with id (?P<id>\d+)", "등록된 사람 {id}번이 없습니다"),
    (r"see `jikimi person list`", "`jikimi person list`로 목록을 확인하세요"),
    (
        r"person (?P<id>\d+) was already withdrawn on (?P<date>\d{4}-\d{2}-\d{2})",
        "등록된 사람 {id}번은 {date}에 이미 철회되었습니다",
    ),
    # -- face models: jikimi.signals.face_models, jikimi.index.faces, re-embedding in jikimi.store.people --
    (
        r"the face model file (?P<path>.+) \(set in JIKIMI_FACE_MODEL\) does not exist",
        "얼굴 모델 파일 {path}이(가) 없습니다(JIKIMI_FACE_MODEL에 설정됨)",
    ),
    (
        r"give the path of an ONNX model in JIKIMI_FACE_MODEL, or unset it to use the built-in dlib model",
        "JIKIMI_FACE_MODEL에 ONNX 모델 파일 경로를 지정하거나, 설정을 지워 기본 dlib 모델을 쓰세요",
    ),
    (
        r"the face model (?P<path>.+) has no sidecar file \((?P<names>.+)\)",
        "얼굴 모델 {path}에 설명 파일({names})이 없습니다",
    ),
    (
        r"write (?P<path>.+) with its name, licence and input spec "
        r"\(see docs/faces\.md, Using another face model\)",
        "모델 이름, 라이선스, 입력 형식을 적은 {path} 파일을 만드세요(docs/faces.md의 "
        "'Using another face model' 참고)",
    ),
    (
        r"the face model (?P<path>.+) cannot be loaded: (?P<detail>.+)",
        "얼굴 모델 {path}을(를) 불러오지 못했습니다: {detail}",
    ),
    (
        r"check that JIKIMI_FACE_MODEL names a valid ONNX model file",
        "JIKIMI_FACE_MODEL이 올바른 ONNX 모델 파일을 가리키는지 확인하세요",
    ),
    (
        rf"the face model (?P<name>{_QUOTED}) has no calibration \((?P<path>.+)\); face matching is off",
        "얼굴 모델 {name}의 보정 파일({path})이 없어 얼굴 대조를 하지 않습니다",
    ),
    (
        r"run scripts/calibrate_faces\.py --write with JIKIMI_FACE_MODEL set to this model",
        "JIKIMI_FACE_MODEL을 이 모델로 설정한 채 scripts/calibrate_faces.py --write를 실행하세요",
    ),
    (
        r"the enrolled face was not found again in this kept photo",
        "보관된 사진에서 등록된 얼굴을 다시 찾지 못했습니다",
    ),
    (
        r"enrol the person again from new photos \(with her consent\)",
        "본인의 동의를 받아 새 사진으로 다시 등록하세요",
    ),
    (r"the kept photo failed its checksum", "보관된 사진의 체크섬이 맞지 않습니다"),
    (r"enrol new photos", "새 사진으로 등록하세요"),
    (
        r"person (?P<id>\d+) was withdrawn; her face data was deleted",
        "등록된 사람 {id}번은 철회되어 얼굴 데이터가 삭제되었습니다",
    ),
    (
        r"enrol her again with `jikimi person enroll` if she consents again",
        "다시 동의하면 `jikimi person enroll`로 다시 등록하세요",
    ),
    # -- jikimi.store.source_photos: her source photos on the enrolment page --
    (r"person (?P<id>\d+) has no valid consent now", "등록된 사람 {id}번은 지금 유효한 동의가 없습니다"),
    (
        r"this photo has too little detail to be recognised",
        "이 사진은 알아볼 수 있을 만큼 세부 정보가 충분하지 않습니다",
    ),
    (
        r"at most (?P<n>\d+) source photos per person \((?P<have>\d+) already\)",
        "한 사람당 원본 사진은 {n}장까지입니다(이미 {have}장)",
    ),
    (
        r"person (?P<id>\d+) has no source photo (?P<source>\d+)",
        "등록된 사람 {id}번에게 {source}번 원본 사진이 없습니다",
    ),
    (
        r"Invalid isoformat string: (?P<value>.+)",
        "날짜 형식이 올바르지 않습니다: {value}",
    ),  # date.fromisoformat
    # -- jikimi.store.accounts: the users page --
    (r"the password is shorter than (?P<n>\d+) characters", "비밀번호가 {n}자보다 짧습니다"),
    (
        r"use a longer passphrase, e\.g\. four unrelated words",
        "더 긴 암호 문구를 쓰세요. 예를 들어 서로 관계없는 단어 네 개를 이어 쓰면 됩니다",
    ),
    (r"the password contains the user name", "비밀번호에 사용자 이름이 들어 있습니다"),
    (r"choose a password without it", "사용자 이름이 들어가지 않은 비밀번호를 정하세요"),
    (rf"invalid user name (?P<name>{_QUOTED})", "쓸 수 없는 사용자 이름입니다: {name}"),
    (
        r"use 2-63 lower-case letters, digits, '\.', '_', '@' or '-'",
        "영문 소문자, 숫자, '.', '_', '@', '-'로 2~63자를 쓰세요",
    ),
    (rf"unknown role (?P<role>{_QUOTED})", "알 수 없는 역할입니다: {role}"),
    (r"choose one of (?P<roles>[a-z_]+(?:, [a-z_]+)*)", "다음 중 하나를 고르세요: {roles}"),
    (r"a platform partner needs the platform name", "플랫폼 파트너 계정에는 플랫폼 이름이 필요합니다"),
    (r"pass --partner NAME", "플랫폼 이름을 함께 입력하세요(--partner NAME)"),
    (r"a victim account needs her case", "피해자 계정에는 본인의 사건 번호가 필요합니다"),
    (r"pass --case CASE_ID", "사건 번호를 함께 입력하세요(--case CASE_ID)"),
    (r"no role chosen for the account", "계정의 역할을 고르지 않았습니다"),
    (r"choose the account's role", "계정의 역할을 고르세요"),
    (
        r"a case number was given for the role (?P<role>[a-z_]+); only a victim account has a case",
        "역할이 '{role}'인 계정에 사건 번호가 입력되었습니다. 사건 번호는 피해자 계정에만 있습니다",
    ),
    (
        r"choose the victim role, or leave the case empty",
        "역할을 '피해자'로 고르거나 사건 번호를 비워 두세요",
    ),
    (
        r"a platform was given for the role (?P<role>[a-z_]+); "
        r"only a platform partner account has a platform",
        "역할이 '{role}'인 계정에 플랫폼이 입력되었습니다. 플랫폼은 협력 플랫폼 계정에만 있습니다",
    ),
    (
        r"choose the platform partner role, or leave the platform empty",
        "역할을 '협력 플랫폼'으로 고르거나 플랫폼을 비워 두세요",
    ),
    (rf"the user (?P<name>{_QUOTED}) already exists", "이미 있는 사용자 이름입니다: {name}"),
    (r"choose another name", "다른 이름을 정하세요"),
    (rf"no user (?P<name>{_QUOTED})", "사용자를 찾을 수 없습니다: {name}"),
    (r"list users with `jikimi user list`", "`jikimi user list`로 사용자 목록을 확인하세요"),
    # -- jikimi.store.banks and jikimi.api.routers.banks: the banks page --
    (r"invalid bank name (?P<name>.+)", "쓸 수 없는 해시 뱅크 이름입니다: {name}"),
    (
        r"use 1-(?P<n>\d+) characters without slashes, tabs or line breaks",
        "슬래시, 탭, 줄바꿈 없이 1~{n}자로 쓰세요",
    ),
    (rf"a bank named (?P<name>{_QUOTED}) already exists", "이미 있는 해시 뱅크 이름입니다: {name}"),
    (rf"no bank named (?P<name>{_QUOTED})", "해시 뱅크를 찾을 수 없습니다: {name}"),
    (r"see `jikimi bank list`", "`jikimi bank list`로 해시 뱅크 목록을 확인하세요"),
    (
        rf"not a valid (?P<kind>{_HASH}) hash: expected (?P<n>\d+) hex digits, got (?P<got>\d+)",
        "올바른 {kind} 해시가 아닙니다: 16진수 {n}자여야 하는데 {got}자입니다",
    ),
    (
        rf"a (?P<kind>{_HASH}) hash looks like 0{{8}}\.\.\. \((?P<n>\d+) characters 0-9 a-f\)",
        "{kind} 해시는 00000000...처럼 0-9와 a-f로 된 {n}자입니다",
    ),
    (
        rf"not a valid (?P<kind>{_HASH}) hash: only the hex digits 0-9 and a-f are allowed",
        "올바른 {kind} 해시가 아닙니다: 16진수(0-9, a-f)만 쓸 수 있습니다",
    ),
    (
        r"not a valid PDQ hash: a PDQ hash has (?P<n>\d+) hex digits, got (?P<got>\d+)",
        "올바른 PDQ 해시가 아닙니다: PDQ 해시는 16진수 {n}자인데 {got}자입니다",
    ),
    (
        r"not a valid PDQ hash: a PDQ hash contains only the hex digits 0-9 and a-f",
        "올바른 PDQ 해시가 아닙니다: PDQ 해시에는 16진수(0-9, a-f)만 들어갑니다",
    ),
    (r"give at least one hash", "해시를 하나 이상 입력하세요"),
    (
        r"pdq \(64 hex\), md5 \(32 hex\) or sha256 \(64 hex\)",
        "PDQ(16진수 64자), MD5(16진수 32자), SHA-256(16진수 64자) 중 하나 이상",
    ),
    # -- uploads: jikimi.api.uploads and jikimi.api.routers.scans --
    (r"too many files \((?P<n>\d+)\)", "파일이 너무 많습니다({n}개)"),
    (
        r"send at most (?P<max>\d+)(?: per request)?, or a zip",
        "한 번에 {max}개까지 보내거나 zip 파일로 묶어 보내세요",
    ),
    (r"(?P<name>.+) is larger than (?P<mib>\d+) MiB", "{name} 파일이 {mib} MiB보다 큽니다"),
    (r"split (?:the material|it,) or raise the limit", "자료를 나누어 올리거나 한도를 올리세요"),
    (r"no file uploaded", "올린 파일이 없습니다"),
    (
        r"choose images, videos, or a zip \(e\.g\. a Telegram export\)",
        "이미지, 동영상 또는 zip 파일(예: 텔레그램 내보내기)을 고르세요",
    ),
    (r"no scan (?P<id>[0-9a-f]+)", "검사 작업을 찾을 수 없습니다: {id}"),
    # -- scans: jikimi.cases.runner, jikimi.scan and the file and zip sources --
    (
        r"the analysis process crashed on this item \(damaged or hostile file\?\)",
        "이 항목을 분석하던 프로세스가 중단되었습니다(손상되었거나 악의적인 파일일 수 있습니다)",
    ),
    (r"could not be stored: (?P<inner>.+)", "저장하지 못했습니다: {inner}"),
    (r"cannot keep the original: (?P<inner>.+)", "원본을 보관하지 못했습니다: {inner}"),
    (
        r"the file changed while it was being scanned; scan it again",
        "검사하는 동안 파일이 바뀌었습니다. 다시 검사하세요",
    ),
    (r"source stopped: (?P<inner>.+)", "자료 읽기가 중단되었습니다: {inner}"),
    (r"cannot read: (?P<detail>.+)", "읽을 수 없습니다: {detail}"),
    (
        r"file is (?P<size>\d+) bytes, over the (?P<limit>\d+)-byte limit",
        "파일 크기({size}바이트)가 한도({limit}바이트)를 넘습니다",
    ),
    (r"not a readable zip: (?P<detail>.+)", "읽을 수 있는 zip 파일이 아닙니다: {detail}"),
    (
        r"archive has (?P<n>\d+) entries, over the limit of (?P<limit>\d+)",
        "압축 파일의 항목 수({n}개)가 한도({limit}개)를 넘습니다",
    ),
    (
        r"member name is empty or contains a NUL byte",
        "압축 파일 안의 항목 이름이 비어 있거나 NUL 바이트가 들어 있습니다",
    ),
    (
        rf"member (?P<name>{_QUOTED}) has an absolute path",
        "압축 파일 항목 {name}: 절대 경로라서 열지 않았습니다",
    ),
    (
        rf"member (?P<name>{_QUOTED}) escapes the archive with '\.\.'",
        "압축 파일 항목 {name}: '..'로 압축 파일 밖을 가리켜 열지 않았습니다",
    ),
    (rf"member (?P<name>{_QUOTED}) is encrypted", "압축 파일 항목 {name}: 암호화되어 있어 열 수 없습니다"),
    (
        rf"member (?P<name>{_QUOTED}) cannot be read: (?P<detail>.+)",
        "압축 파일 항목 {name}: 읽을 수 없습니다({detail})",
    ),
    (
        r"member is (?P<size>\d+) bytes, over the (?P<limit>\d+)-byte limit",
        "압축 파일 항목의 크기({size}바이트)가 한도({limit}바이트)를 넘습니다",
    ),
    (
        r"member compresses (?P<ratio>\d+):1, over the (?P<limit>\d+):1 limit \(zip bomb\?\)",
        "압축 파일 항목의 압축률({ratio}:1)이 한도({limit}:1)를 넘습니다(압축 폭탄일 수 있습니다)",
    ),
    (
        r"archive expands past the (?P<limit>\d+)-byte total limit",
        "압축을 풀면 전체 크기 한도({limit}바이트)를 넘습니다",
    ),
    (
        rf"member (?P<name>{_QUOTED}) is a symbolic link",
        "압축 파일 항목 {name}: 심볼릭 링크라서 풀지 않았습니다",
    ),
    (
        rf"member (?P<name>{_QUOTED}) leads outside the export folder",
        "압축 파일 항목 {name}: 내보내기 폴더 밖을 가리켜 풀지 않았습니다",
    ),
    (
        rf"member (?P<name>{_QUOTED}) is larger than the archive states",
        "압축 파일 항목 {name}: 압축 파일에 기록된 크기보다 커서 풀지 않았습니다",
    ),
    (
        r"the export has (?P<n>\d+) entries, over the limit of (?P<limit>\d+)",
        "내보내기의 항목 수({n}개)가 한도({limit}개)를 넘습니다",
    ),
    (
        r"the export expands past the (?P<limit>\d+)-byte limit",
        "내보내기의 압축을 풀면 크기 한도({limit}바이트)를 넘습니다",
    ),
    (
        r"the export zip names a file twice: (?P<name>.+)",
        "내보내기 zip에 같은 파일이 두 번 들어 있습니다: {name}",
    ),
    (r"the export zip cannot be read: (?P<detail>.+)", "내보내기 zip을 읽을 수 없습니다({detail})"),
    (r"re-create the zip and upload it again", "zip 파일을 다시 만들어 올리세요"),
    (
        r"nested archive not opened \(depth limit (?P<n>\d+)\)",
        "압축 파일 안의 압축 파일은 열지 않았습니다(중첩 한도 {n}단계)",
    ),
    (
        rf"nested archive (?P<name>{_QUOTED}) cannot be read: (?P<detail>.+)",
        "압축 파일 안의 압축 파일 {name}: 읽을 수 없습니다({detail})",
    ),
    (
        rf"archive member (?P<name>{_QUOTED}) is over the (?P<limit>\d+)-byte limit",
        "압축 파일 항목 {name}: 크기가 한도({limit}바이트)를 넘습니다",
    ),
    (
        rf"archive member (?P<name>{_QUOTED}) is corrupt: (?P<detail>.+)",
        "압축 파일 항목 {name}: 손상되었습니다({detail})",
    ),
    # a Telegram export's JSON (before the general size message below, which would take its name)
    (r"(?P<name>\S+) cannot be read: (?P<inner>.+)", "{name}을(를) 읽을 수 없습니다: {inner}"),
    (
        r"(?P<name>.+) is (?P<size>\d+) bytes, over the (?P<limit>\d+)-byte limit",
        "{name} 파일의 크기({size}바이트)가 한도({limit}바이트)를 넘습니다",
    ),
    (r"raise the item size limit if this file is expected", "예상한 파일이라면 항목 크기 한도를 올리세요"),
    (
        r"(?P<name>.+) grew past the (?P<limit>\d+)-byte limit while reading",
        "{name} 파일이 읽는 동안 커져서 한도({limit}바이트)를 넘었습니다",
    ),
    (
        r"(?P<name>.+) changed while scanning \((?P<before>\d+) bytes, now (?P<now>\d+)\)",
        "{name} 파일이 검사 중에 바뀌었습니다({before}바이트에서 {now}바이트로)",
    ),
    (r"(?P<name>.+) is not a regular file", "일반 파일이 아닙니다: {name}"),
    (r"cannot read (?P<where>[^\n]+?): (?P<inner>.+)", "{where} 파일을 읽을 수 없습니다: {inner}"),
    (r"check the file is still there and readable", "파일이 그대로 있고 읽을 수 있는지 확인하세요"),
    # -- jikimi.takedown: drafting, approving, sending and marking notices --
    (
        r"case (?P<case>\S+) has no items waiting for a notice",
        "사건 {case}에는 삭제 요청을 기다리는 항목이 없습니다",
    ),
    (
        r"items are added when a finding is confirmed \(or with `jikimi takedown add`\); "
        r"see `jikimi takedown list` for notices already drafted",
        "발견 항목을 확인하면(또는 `jikimi takedown add`로) 항목이 추가됩니다. 이미 작성한 삭제 요청은 "
        "`jikimi takedown list`로 확인하세요",
    ),
    (
        r"the mailbox address must look like imaps://user@host/INBOX",
        "메일함 주소는 imaps://사용자@서버/INBOX 형식이어야 합니다",
    ),
    (
        r"imaps:// for TLS from the start \(port 993\), imap:// for STARTTLS \(port 143\)",
        "처음부터 TLS를 쓰면 imaps://(포트 993), STARTTLS를 쓰면 imap://(포트 143)",
    ),
    (
        r"put the mailbox password in its own field, not in the address",
        "메일함 비밀번호는 주소가 아니라 비밀번호 칸에 넣으세요",
    ),
    (
        r"the password field is write-only; the address is shown on the page",
        "비밀번호 칸은 저장만 되고 다시 표시되지 않습니다. 주소는 화면에 표시됩니다",
    ),
    (
        r"the SMTP port must be a number from 1 to 65535, not (?P<port>.+)",
        "SMTP 포트는 1에서 65535 사이의 숫자여야 합니다({port}은(는) 아닙니다)",
    ),
    (
        r"this photo shows (?P<n>\d+) faces; choose hers below",
        "이 사진에는 얼굴이 {n}개 있습니다. 아래에서 본인의 얼굴을 고르세요",
    ),
    (
        r"the requesting organisation is not configured \(every notice names it\)",
        "요청 기관이 설정되어 있지 않습니다(모든 삭제 요청에 기관명이 들어갑니다)",
    ),
    (
        r"(?s)set JIKIMI_ORG_NAME and JIKIMI_ORG_EMAIL, or write (?P<path>[^\n]+) like:\n(?P<example>.+)",
        "JIKIMI_ORG_NAME과 JIKIMI_ORG_EMAIL을 설정하거나, {path} 파일을 다음과 같이 작성하세요:\n{example}",
    ),
    (
        rf"notice (?P<id>\d+) is (?P<state>{_STATE}), not drafted",
        "삭제 요청 {id}번은 '{state}' 상태라 초안이 아닙니다",
    ),
    (r"only drafts are approved", "초안('작성됨' 상태)만 승인할 수 있습니다"),
    (
        r"notice (?P<id>\d+) was drafted by (?P<who>.+); "
        r"the organisation requires another person to approve it \(four eyes\)",
        "삭제 요청 {id}번은 {who} 님이 작성했습니다. "
        "기관 설정에 따라 작성하지 않은 다른 사람이 승인해야 합니다(이중 승인 원칙)",
    ),
    (
        r"ask a colleague who did not draft it to approve it",
        "이 요청을 작성하지 않은 동료에게 승인을 부탁하세요",
    ),
    (r"the notice has no footer to sign", "삭제 요청에 서명할 맺음말이 없습니다"),
    (r"withdraw it and draft it again", "철회한 뒤 다시 작성하세요"),
    (
        r"notice (?P<id>\d+) was changed after it was drafted \(content hash mismatch\)",
        "삭제 요청 {id}번이 작성된 뒤에 바뀌었습니다(내용 해시 불일치)",
    ),
    (
        r"withdraw it and draft it again: `jikimi takedown withdraw ID` then `jikimi takedown draft CASE`",
        "철회한 뒤 다시 작성하세요: `jikimi takedown withdraw ID` 다음에 `jikimi takedown draft CASE`",
    ),
    (
        rf"notice (?P<id>\d+) is (?P<state>{_STATE}); its recipient can no longer change",
        "삭제 요청 {id}번은 '{state}' 상태라 받는 주소를 더 이상 바꿀 수 없습니다",
    ),
    (r"not an e-mail address: (?P<addr>.+)", "이메일 주소가 아닙니다: {addr}"),
    (
        rf"notice (?P<id>\d+) is (?P<state>{_STATE}); only unsent notices can be withdrawn",
        "삭제 요청 {id}번은 '{state}' 상태입니다. 보내지 않은 삭제 요청만 철회할 수 있습니다",
    ),
    (
        rf"notice (?P<id>\d+) is (?P<state>{_STATE}); only approved notices are sent",
        "삭제 요청 {id}번은 '{state}' 상태입니다. 승인된 삭제 요청만 보낼 수 있습니다",
    ),
    (r"approve it first: `jikimi takedown approve ID`", "먼저 승인하세요(`jikimi takedown approve ID`)"),
    (
        r"notice (?P<id>\d+) goes to (?P<platform>.+) through a web form \((?P<form>.+)\)",
        "삭제 요청 {id}번은 {platform}의 웹 양식으로 제출해야 합니다({form})",
    ),
    (
        r"submit the PDF \(`jikimi takedown pdf (?P<id>\d+)`\) there, then record it with "
        r"`jikimi takedown send (?P<id2>\d+) --submitted CONFIRMATION`",
        "그 양식에 PDF(`jikimi takedown pdf {id}`)를 제출한 다음 웹 양식 접수 번호를 기록하세요"
        "(`jikimi takedown send {id2} --submitted CONFIRMATION`)",
    ),
    (r"notice (?P<id>\d+) has no recipient address", "삭제 요청 {id}번에 받는 주소가 없습니다"),
    (
        r"set the platform's or host's abuse address: `jikimi takedown send (?P<id>\d+) --to ADDRESS`",
        "플랫폼이나 호스팅 업체의 신고 주소를 받는 주소로 입력하세요"
        "(`jikimi takedown send {id} --to ADDRESS`)",
    ),
    (r"no re-upload alert (?P<id>\d+)", "재유포 알림 {id}번이 없습니다"),
    (
        r"re-upload alert (?P<id>\d+) was already resolved by (?P<who>\S+)",
        "재유포 알림 {id}번은 이미 {who}님이 처리했습니다",
    ),
    (r"the platform's reply is over 5000 characters", "플랫폼 답변이 5000자를 넘습니다"),
    (r"paste the relevant part", "관련된 부분만 붙여 넣으세요"),
    (r"approve it first", "먼저 승인하세요"),
    (r"say how the notice was sent", "삭제 요청을 어떻게 보냈는지 적어 주세요"),
    (
        r"e\.g\. from (?P<addr>\S+) by e-mail, or by registered post",
        "예: {addr}에서 이메일로, 또는 등기 우편으로",
    ),
    (r"the description of how it was sent is over 500 characters", "보낸 방법 설명이 500자를 넘습니다"),
    (r"the time it was sent needs a time zone", "보낸 시각에 시간대가 필요합니다"),
    (r"the time it was sent is in the future", "보낸 시각이 미래입니다"),
    (r"sent by hand by (?P<who>\S+): (?P<how>.+)", "{who}님이 직접 보냄: {how}"),
    (r"no SMTP server configured for sending notices", "삭제 요청을 보낼 SMTP 서버가 설정되어 있지 않습니다"),
    (
        r"set JIKIMI_SMTP_HOST \(and PORT, USER, PASSWORD, STARTTLS, FROM\) "
        r"or the smtp: section of (?P<path>.+)",
        "JIKIMI_SMTP_HOST(및 PORT, USER, PASSWORD, STARTTLS, FROM)를 설정하거나 {path} 파일의 smtp: 항목을 "
        "작성하세요",
    ),
    (r"no sender address for notices", "삭제 요청을 보낼 발신 주소가 없습니다"),
    (
        r"set JIKIMI_SMTP_FROM \(or smtp: from: in the file\)",
        "JIKIMI_SMTP_FROM(또는 설정 파일의 smtp: from:)을 설정하세요",
    ),
    (
        r"JIKIMI_SMTP_PORT/TIMEOUT must be numbers \((?P<detail>.*)\)",
        "JIKIMI_SMTP_PORT와 JIKIMI_SMTP_TIMEOUT은 숫자여야 합니다({detail})",
    ),
    (
        r"(?P<what>\S+) must be true or false, not (?P<value>.+)",
        "{what} 값은 true나 false여야 합니다(현재 값: {value})",
    ),
    (r"(?P<path>[^\n]+) is not valid YAML: (?P<detail>.+)", "{path} 파일이 올바른 YAML이 아닙니다: {detail}"),
    (
        r"(?P<path>[^\n]+): '(?P<name>\w+)' must be a mapping",
        "{path} 파일의 '{name}' 항목은 매핑이어야 합니다",
    ),
    (r"(?s)it should look like:\n(?P<example>.+)", "다음과 같은 형식이어야 합니다:\n{example}"),
    (
        r"the server at (?P<where>\S+) refused recipients: (?P<refused>.+)",
        "{where} 서버가 받는 사람을 거부했습니다: {refused}",
    ),
    (
        r"the server at (?P<where>\S+) refused the login \((?P<code>.*)\)",
        "{where} 서버가 로그인을 거부했습니다({code})",
    ),
    (
        r"the server at (?P<where>\S+) does not offer STARTTLS; not sending in clear text",
        "{where} 서버가 STARTTLS를 지원하지 않아, 암호화하지 않은 채로는 보내지 않았습니다",
    ),
    (
        r"sending through (?P<where>\S+) failed: (?P<detail>.+)",
        "{where} 서버를 통한 발송에 실패했습니다: {detail}",
    ),
    (
        r"cannot reach the mail server at (?P<where>\S+): (?P<detail>.+)",
        "메일 서버 {where}에 연결할 수 없습니다: {detail}",
    ),
    (
        r"check JIKIMI_SMTP_HOST/PORT/STARTTLS/USER/PASSWORD; "
        r"the notice stays approved and `jikimi takedown send --due` retries it",
        "JIKIMI_SMTP_HOST/PORT/STARTTLS/USER/PASSWORD 설정을 확인하세요. 삭제 요청은 승인 상태로 남아 있고 "
        "`jikimi takedown send --due`가 다시 보냅니다",
    ),
    (
        rf"no item of notice (?P<id>\d+) can become (?P<state>{_STATE})",
        "삭제 요청 {id}번에는 '{state}' 상태로 바꿀 수 있는 항목이 없습니다",
    ),
    (rf"their states: (?P<states>{_STATE}(?:, {_STATE})*)", "항목의 현재 상태: {states}"),
    (
        rf"item (?P<id>\d+) is (?P<state>{_STATE}); it cannot become (?P<state_new>{_STATE})",
        "항목 {id}번은 '{state}' 상태라 '{state_new}' 상태로 바꿀 수 없습니다",
    ),
    (
        rf"from (?P<state>{_STATE}) it can become: (?P<states>{_STATE}(?:, {_STATE})*)",
        "'{state}' 상태에서 바꿀 수 있는 상태: {states}",
    ),
    (r"no takedown notice (?P<id>\d+)", "삭제 요청 {id}번이 없습니다"),
    (r"list them with `jikimi takedown list`", "`jikimi takedown list`로 목록을 확인하세요"),
    # notes of a drafted notice (jikimi.takedown.service.draft_case)
    (
        r"(?P<n>\d+) item\(s\) added to the open draft",
        "아직 승인되지 않은 초안에 항목 {n}개를 추가했습니다",
    ),
    (
        r"drafted again in (?P<lang>[\w-]+) \(was (?P<old>[\w-]+)\)",
        "{lang} 언어로 다시 작성했습니다(이전: {old})",
    ),
    (r"notice (?P<id>\d+): (?P<inner>.+)", "삭제 요청 {id}번: {inner}"),
    (
        r"item (?P<id>\d+) lacks (?P<fields>\w+(?:, \w+)*) \(required by (?P<platform>.+)\)",
        "항목 {id}번에 {platform}에서 요구하는 정보가 빠져 있습니다: {fields}",
    ),
    (
        r"unknown platform for (?P<hosts>.+): generic hosting-provider template used; "
        r"find the abuse contact with `jikimi takedown contact URL`, then set it with --to",
        "{hosts}의 플랫폼을 알 수 없어 일반 호스팅 업체용 양식을 썼습니다. "
        "`jikimi takedown contact URL`로 신고 연락처를 찾아 받는 주소로 입력하세요(--to)",
    ),
    (
        r"the (?P<platform>.+) contact details are marked 'verify before use' in the directory",
        "플랫폼 목록에서 {platform} 연락처에는 '사용 전 확인' 표시가 있습니다",
    ),
    (
        r"(?P<platform>.+) lists languages (?P<langs>[\w-]+(?:, [\w-]+)*); drafted in (?P<lang>[\w-]+)",
        "{platform}에서 받는 언어는 {langs}이며, 삭제 요청은 {lang} 언어로 작성했습니다",
    ),
    (
        rf"platform (?P<key>{_QUOTED}) is no longer in the directory: generic template used",
        "플랫폼 {key}이(가) 더 이상 플랫폼 목록에 없어 일반 양식을 썼습니다",
    ),
    # -- jikimi.sources.telegram: Telegram Desktop exports (uploaded as a zip) --
    (r"(?P<path>.+) is not a Telegram Desktop export", "{path}은(는) Telegram Desktop 내보내기가 아닙니다"),
    (
        r"export from Telegram Desktop: Settings > Advanced > Export Telegram data",
        "Telegram Desktop에서 내보내세요: 설정 > 고급 > Telegram 데이터 내보내기",
    ),
    (r"(?P<path>.+) is not a folder", "{path}은(는) 폴더가 아닙니다"),
    (
        r"give the Telegram export folder \(with result\.json\)",
        "Telegram 내보내기 폴더(result.json이 있는 폴더)를 지정하세요",
    ),
    (r"(?P<name>\S+) is not a JSON object", "{name}은(는) JSON 객체가 아닙니다"),
    (r"is this a Telegram Desktop export\?", "Telegram Desktop 내보내기 파일이 맞는지 확인하세요"),
    (r"(?P<name>\S+) has no messages or chats", "{name}에 메시지나 대화가 없습니다"),
    (
        r"export the chat history, not only account information",
        "계정 정보만이 아니라 대화 기록을 내보내세요",
    ),
    (
        r"export has (?P<n>\d+) HTML pages, over the limit (?P<limit>\d+)",
        "내보내기의 HTML 페이지 수({n}쪽)가 한도({limit}쪽)를 넘습니다",
    ),
    (r"raise the JSON size limit if needed", "필요하면 JSON 크기 한도를 올리세요"),
    (r"the export JSON must be a regular file", "내보내기 JSON은 일반 파일이어야 합니다"),
    (
        r"(?P<name>\S+) is nested too deeply to be a Telegram export",
        "{name}은(는) 구조가 너무 깊어 Telegram 내보내기로 볼 수 없습니다",
    ),
    (r"(?P<name>\S+) is not valid JSON: (?P<detail>.+)", "{name}은(는) 올바른 JSON이 아닙니다: {detail}"),
    (r"re-export the chat from Telegram Desktop", "Telegram Desktop에서 대화를 다시 내보내세요"),
    (r"message #(?P<n>\d+) is not a JSON object", "메시지 #{n}이(가) JSON 객체가 아닙니다"),
    (
        r"(?P<rel>.+) is (?P<size>\d+) bytes but the export states (?P<declared>\d+)",
        "{rel} 파일은 {size}바이트인데 내보내기에는 {declared}바이트로 적혀 있습니다",
    ),
    (
        r"File not included\. Change data exporting settings to download\.",
        "파일이 내보내기에 포함되지 않았습니다. 내보내기 설정에서 미디어 다운로드를 켜세요",
    ),
    (r"media not included in the export", "미디어가 내보내기에 포함되지 않았습니다"),
    (r"empty or invalid media path", "미디어 경로가 비어 있거나 올바르지 않습니다"),
    (rf"absolute media path refused: (?P<rel>{_QUOTED})", "절대 경로는 받지 않습니다: {rel}"),
    (
        rf"media path escapes the export folder: (?P<rel>{_QUOTED})",
        "미디어 경로가 내보내기 폴더 밖을 가리킵니다: {rel}",
    ),
    (
        rf"media path is a broken symbolic link: (?P<rel>{_QUOTED})",
        "미디어 경로가 끊어진 심볼릭 링크입니다: {rel}",
    ),
    (r"media file missing from the export: (?P<rel>.+)", "내보내기에 미디어 파일이 없습니다: {rel}"),
    (
        rf"media path cannot be resolved: (?P<rel>{_QUOTED}) \((?P<detail>.+)\)",
        "미디어 경로를 확인할 수 없습니다: {rel} ({detail})",
    ),
    (
        rf"media path leads outside the export folder \(symbolic link\?\): (?P<rel>{_QUOTED})",
        "미디어 경로가 내보내기 폴더 밖으로 이어집니다(심볼릭 링크?): {rel}",
    ),
    (
        rf"media path is not a regular file: (?P<rel>{_QUOTED})",
        "미디어 경로가 일반 파일이 아닙니다: {rel}",
    ),
    (
        rf"media path cannot be read: (?P<rel>{_QUOTED}) \((?P<detail>.+)\)",
        "미디어 경로를 읽을 수 없습니다: {rel} ({detail})",
    ),
    # -- jikimi.cases: review and case pages --
    (
        rf"finding (?P<id>\d+) is (?P<state>{_STATE}); it cannot become (?P<state_new>{_STATE})",
        "발견 항목 {id}번은 '{state}' 상태라 '{state_new}' 상태로 바꿀 수 없습니다",
    ),
    (
        r"reopen it first \(jikimi case reopen FINDING_ID\)",
        "먼저 '되돌리기'로 다시 여세요(jikimi case reopen FINDING_ID)",
    ),
    (r"no finding (?P<id>\d+)", "발견 항목 {id}번이 없습니다"),
    (r"list them with: jikimi case show CASE_ID", "`jikimi case show CASE_ID`로 목록을 확인하세요"),
    (r"empty URL", "링크가 비어 있습니다"),
    (r"give the full link, e\.g\. (?P<eg>\S+)", "전체 링크를 입력하세요(예: {eg})"),
    (rf"not a URL: (?P<url>{_QUOTED}) \((?P<detail>.+)\)", "링크가 아닙니다: {url}({detail})"),
    (rf"not a web address: (?P<url>{_QUOTED})", "웹 주소가 아닙니다: {url}"),
    (
        rf"unsupported link scheme (?P<scheme>{_QUOTED}) in (?P<url>{_QUOTED})",
        "지원하지 않는 링크 형식({scheme})입니다: {url}",
    ),
    (r"give an http\(s\) or tg:// link", "http(s) 또는 tg:// 링크를 입력하세요"),
    (r"a takedown item needs a case id", "삭제 요청 항목에는 사건 번호가 필요합니다"),
    (
        r"the (?P<field>sha256|md5|pdq) hash must be (?P<n>\d+) hex digits \(0-9, a-f\)",
        "{field} 해시는 16진수 {n}자리(0-9, a-f)여야 합니다",
    ),
    (
        rf"(?P<what>first seen|captured at) is not a date/time: (?P<text>{_QUOTED})",
        "날짜/시각이 아닙니다({what}): {text}",
    ),
    (r"use the date picker, e\.g\. (?P<eg>.+)", "날짜 선택기를 쓰세요(예: {eg})"),
    (r"no case (?P<id>\S+)", "사건 {id}번이 없습니다"),
    (r"list cases with: jikimi case list", "`jikimi case list`로 사건 목록을 확인하세요"),
    (rf"no review action (?P<action>{_QUOTED})", "알 수 없는 검토 동작입니다: {action}"),
]

CATALOGUE: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), t) for p, t in _ENTRIES)

_MAX_LEN = 4000  # longer texts are shown as they are (no pattern work on huge input)
_MAX_SPLITS = 12  # "reason (hint)": the first few " (" are tried as the boundary
_MAX_DEPTH = 4  # reasons nested inside reasons ("cannot keep the original: <reason>")


# -- values that are themselves English words --
def _label(value: str) -> str:
    if value.endswith(" video"):
        return value[: -len(" video")] + " 동영상"
    if value.endswith(" file"):
        return value[: -len(" file")]
    return value


def _duration(value: str) -> str:
    return re.sub(r"(\d) min", r"\1분", re.sub(r"(\d) h", r"\1시간", re.sub(r"(\d) s$", r"\1초", value)))


def _state(value: str) -> str:
    """A takedown or finding state with the label the pages show ("sent" -> "발송됨")."""
    return "없음" if value == "none" else translator("ko").gettext(value)


_ROLE_LABELS = {  # jikimi.api.roles.ROLE_LABELS (the web layer does not import the API)
    "admin": "Administrator",
    "case_worker": "Case worker",
    "investigator": "Investigator",
    "partner": "Platform partner",
    "victim": "Victim",
}


def _role(value: str) -> str:
    """An account role with the label the pages show ("admin" -> "관리자")."""
    return translator("ko").gettext(_ROLE_LABELS[value]) if value in _ROLE_LABELS else value


def _states(value: str) -> str:
    return ", ".join(_state(v) for v in value.split(", "))


def _form(value: str) -> str:
    return "플랫폼 목록 참고" if value == "see the platform directory" else value


def _failures(value: str, depth: int) -> str:
    """``"photo #1: reason (hint); photo #2: ..."`` from ``EnrolmentError``, each part translated."""
    out = []
    for part in value.split("; "):
        photo, sep, rest = part.partition(": ")
        out.append(f"{_translate(photo, depth + 1)}: {_translate(rest, depth + 1)}" if sep else part)
    return "; ".join(out)


_CONVERT: dict[str, Callable[[str], str]] = {
    "label": _label,
    "unknown": lambda v: _UNKNOWN.get(v, v),
    "dur": _duration,
    "dur_limit": _duration,
    "state": _state,
    "state_new": _state,
    "states": _states,
    "form": _form,
    "role": _role,
}


def _values(m: re.Match[str], depth: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, found in m.groupdict().items():
        value = found or ""
        if name == "inner":
            out[name] = _translate(value, depth + 1)
        elif name == "failures":
            out[name] = _failures(value, depth)
        else:
            out[name] = _CONVERT.get(name, str)(value)
    return out


def _match(text: str, depth: int) -> str | None:
    """The Korean for ``text`` if one catalogue pattern matches all of it, else None."""
    for pattern, template in CATALOGUE:
        m = pattern.fullmatch(text)
        if m is not None:
            return template.format(**_values(m, depth))
    return None


def _split_hint(text: str, depth: int, *, need_hint: bool) -> str | None:
    """``"reason (hint)"``, as ``str(JikimiError)`` writes it (scan errors, enrolment failures).

    The Korean if the reason part matches (and the hint part too, with ``need_hint``), else None."""
    if not text.endswith(")"):
        return None
    start = text.find(" (")
    for _ in range(_MAX_SPLITS):
        if start <= 0:
            break
        head = _match(text[:start], depth)
        if head is not None:
            hint = text[start + 2 : -1]
            tail = _match(hint, depth)
            if tail is not None or not need_hint:
                return f"{head} ({tail or hint})"
        start = text.find(" (", start + 1)
    return None


def _translate(text: str, depth: int = 0) -> str:
    """Korean where the catalogue knows the message, the text unchanged where it does not."""
    if depth > _MAX_DEPTH or not text or len(text) > _MAX_LEN:
        return text
    # A known reason with a known hint first, so that a reason ending in a free-form value does not swallow
    # the hint ("cannot read X: <error> (check the file is still there and readable)").
    found = _split_hint(text, depth, need_hint=True) or _match(text, depth)
    if found is not None:
        return found
    if " — " in text:  # "reason — hint", as the pages join them
        reason, _, hint = text.partition(" — ")
        return f"{_translate(reason, depth + 1)} — {_translate(hint, depth + 1)}"
    return _split_hint(text, depth, need_hint=False) or text


def translate_reason(text: str | None, lang: str) -> str:
    """``text`` (an error reason, a hint, or ``"reason — hint"``) in ``lang``.

    Korean when ``lang`` is "ko" and the catalogue matches, otherwise the text unchanged. Never raises; the
    values in the text are kept."""
    if text is None:
        return ""
    if not isinstance(text, str):
        return str(text)
    if lang != "ko":
        return text
    try:
        return _translate(text)
    except Exception:  # a catalogue mistake must never break a page: show the original
        return text


__all__ = ["CATALOGUE", "translate_reason"]
