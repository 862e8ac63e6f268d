//! Envelope encryption of a file: a data key from GenerateDataKey seals the file in 64 KiB
//! segments; the envelope's header carries the data key's CiphertextBlob and its encryption
//! context, so decrypting needs nothing but the file and the master key.
//!
//! ```text
//! export KMS_ENVELOPE_MASTER_KEY=$(openssl rand -hex 32)    # 64 hex digits: AES-256
//! cargo run -p kms-envelope --example envelope_file --features std -- encrypt report.pdf report.pdf.kmsenv
//! cargo run -p kms-envelope --example envelope_file --features std -- decrypt report.pdf.kmsenv copy.pdf
//! ```
//!
//! Usage: `envelope_file (encrypt|decrypt) IN OUT [--force] [--context JSON] [--master-key HEX]`
//!
//! - `--context JSON`: the encryption context. Encrypting binds it to the data key (default
//!   `{"purpose":"envelope_file"}`); decrypting refuses a file whose context is not the same
//!   context (by content: key order, white space and escapes do not matter). Without it,
//!   decrypting accepts any context: the file's own goes to Decrypt.
//! - `OUT` is never overwritten unless `--force` is given. Output goes to a temporary file in
//!   OUT's directory, synced, then renamed (or, without `--force`, hard-linked, which cannot
//!   replace a file that appeared meanwhile) into place: a failure, including a file found
//!   damaged or truncated halfway through decryption, leaves no partial OUT behind.
//!
//! # The example's master key, exactly (to write or read its files elsewhere)
//!
//! Until keyring snapshots are wired in, the example holds one master key with one version,
//! under fixed IDs, in a `FixedCapacityProvider`, so that any run with the same material opens
//! the files of another:
//!
//! - **Material**: the hex text of `--master-key HEX`, or else of the `KMS_ENVELOPE_MASTER_KEY`
//!   environment variable (prefer the variable: a command line is visible in `ps`), with
//!   leading and trailing white space removed, upper- or lowercase digits. 64 digits decode to
//!   32 bytes of AES-256 material, 32 digits to 16 bytes of AES-128 material; the bytes are the
//!   material as they are, with no key derivation. Anything else is refused.
//! - **Key ID** `9a3b0c52-6d1e-4f7a-8b2c-3d4e5f60718a`, **key version ID**
//!   `1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9` (the 36 ASCII bytes every blob this example makes
//!   starts with; a blob that names another version is `Forbidden.KeyNotFound`), account
//!   `1234567890123456`, region `cn-hangzhou`.
//! - **The data key**: encrypting asks GenerateDataKey for 32 bytes (`AES_256`); decrypting
//!   accepts files with a 16- or 32-byte data key.
//! - **The blob** in a file's header is therefore, as in spec §5:
//!   `"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" || iv (12 random bytes) || ciphertext || tag (16)`,
//!   where `ciphertext || tag` is AES-GCM (AES-256 or AES-128, by the material's length) under
//!   the material, with that IV, of the data key's **standard, padded Base64 text** (44 ASCII
//!   bytes for a 32-byte key, 24 for a 16-byte one), with associated data
//!   `"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" || the canonical context` (the same canonical
//!   bytes the header's context field holds).
//!
//! So another implementation writes a file this example opens by drawing a data key, sealing
//! its Base64 text as above, and writing the envelope of the crate documentation's format
//! section with that blob and context; it opens this example's files by opening the header's
//! blob the same way (checking the tag), decoding the Base64 text to the data key, and
//! following that section.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kms_core::context::ContextBuf;
use kms_core::ops::{self, GenerateDataKeyRequest};
use kms_core::rand_core::TryRng;
use kms_core::{
    Caller, DataKeyLength, FixedCapacityProvider, KeyId, KeyVersionId, MasterKeyMaterial, OsRng,
};
use kms_envelope::{DataKey, DecryptReader, EncryptWriter, Header, SealParams};
use zeroize::Zeroizing;

const ACCOUNT: &str = "1234567890123456";
const REGION: &str = "cn-hangzhou";
/// The example's one master key and its one version: fixed, so that runs agree.
const KEY_ID: &str = "9a3b0c52-6d1e-4f7a-8b2c-3d4e5f60718a";
const VERSION_ID: &[u8] = b"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9";
const MASTER_KEY_VAR: &str = "KMS_ENVELOPE_MASTER_KEY";
const DEFAULT_CONTEXT: &str = r#"{"purpose":"envelope_file"}"#;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Args {
    encrypt: bool,
    input: PathBuf,
    output: PathBuf,
    force: bool,
    context: Option<String>,
    master_key: Option<String>,
}

const USAGE: &str = "usage: envelope_file (encrypt|decrypt) IN OUT [--force] [--context JSON] \
                     [--master-key HEX]\n\
                     The master key (64 or 32 hex digits) comes from --master-key or from \
                     the KMS_ENVELOPE_MASTER_KEY environment variable.";

fn parse_args(mut args: impl Iterator<Item = OsString>) -> std::result::Result<Args, String> {
    let mut positional = Vec::new();
    let (mut force, mut context, mut master_key) = (false, None, None);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--force") => force = true,
            Some("--context") => {
                let value = args.next().ok_or("--context needs a value")?;
                context = Some(value.into_string().map_err(|_| "--context is not UTF-8")?);
            }
            Some("--master-key") => {
                let value = args.next().ok_or("--master-key needs a value")?;
                master_key = Some(
                    value
                        .into_string()
                        .map_err(|_| "--master-key is not UTF-8")?,
                );
            }
            Some("-h" | "--help") => return Err(String::new()),
            Some(flag) if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let [mode, input, output] = <[OsString; 3]>::try_from(positional)
        .map_err(|_| "expected a mode, IN and OUT".to_string())?;
    let encrypt = match mode.to_str() {
        Some("encrypt") => true,
        Some("decrypt") => false,
        _ => return Err(format!("unknown mode {mode:?}: encrypt or decrypt")),
    };
    Ok(Args {
        encrypt,
        input: input.into(),
        output: output.into(),
        force,
        context,
        master_key,
    })
}

/// Decodes the master key's hex text (64 or 32 digits, either case) into the material itself.
fn master_key(argument: Option<String>) -> Result<MasterKeyMaterial> {
    let text = Zeroizing::new(match argument {
        Some(text) => text,
        None => std::env::var(MASTER_KEY_VAR).map_err(|_| {
            format!("no master key: set {MASTER_KEY_VAR} (64 hex digits) or pass --master-key")
        })?,
    });
    let text = text.trim();
    let wrong_length = "the master key must be 64 hex digits (AES-256) or 32 (AES-128)";
    if text.len() != 64 && text.len() != 32 {
        return Err(wrong_length.into());
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    let material =
        base16ct::mixed::decode(text, &mut bytes[..]).map_err(|_| "the master key is not hex")?;
    MasterKeyMaterial::from_slice(material).ok_or_else(|| wrong_length.into())
}

/// The provider with the example's one key.
fn provider(material: MasterKeyMaterial) -> Result<FixedCapacityProvider<1>> {
    let mut provider = FixedCapacityProvider::new(ACCOUNT, REGION).ok_or("bad account")?;
    let key_id = KeyId::parse(KEY_ID).ok_or("bad key ID")?;
    let version = KeyVersionId::parse(VERSION_ID).ok_or("bad version ID")?;
    provider.add_key(key_id, version, material)?;
    Ok(provider)
}

/// A temporary file beside `output`, created new, and its path.
fn temporary_beside(output: &Path) -> Result<(File, PathBuf)> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = output.file_name().ok_or("OUT has no file name")?;
    let mut suffix = [0u8; 8];
    OsRng.try_fill_bytes(&mut suffix)?;
    let mut temp_name = OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", base16ct::lower::encode_string(&suffix)));
    let path = dir.join(temp_name);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((file, path))
}

/// Moves the finished temporary file to `output`: replacing it with `--force`, else only if
/// nothing is there (a hard link cannot replace a file, so a file that appeared since the
/// first check is not lost).
fn put_in_place(temp: &Path, output: &Path, force: bool) -> Result<()> {
    if force {
        fs::rename(temp, output)?;
        return Ok(());
    }
    match fs::hard_link(temp, output) {
        Ok(()) => {
            fs::remove_file(temp)?;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(format!("{} exists (use --force to replace it)", output.display()).into())
        }
        // A file system without hard links: check, then rename.
        Err(_) if !output.exists() => Ok(fs::rename(temp, output)?),
        Err(e) => Err(e.into()),
    }
}

/// Writes OUT through a temporary file: `write` fills it; on any error it is removed.
fn write_output(
    output: &Path,
    force: bool,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    if !force && output.exists() {
        return Err(format!("{} exists (use --force to replace it)", output.display()).into());
    }
    let (file, temp) = temporary_beside(output)?;
    let result = (|| {
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        put_in_place(&temp, output, force)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Parses the `--context` text.
fn context(text: &str) -> Result<ContextBuf> {
    ContextBuf::parse_json(Some(text))
        .map_err(|_| format!("--context {text} is not a valid encryption context").into())
}

fn encrypt(args: &Args, provider: &FixedCapacityProvider<1>) -> Result<()> {
    let caller = Caller::new(ACCOUNT, REGION);
    let context = context(args.context.as_deref().unwrap_or(DEFAULT_CONTEXT))?;
    let key_id = KeyId::parse(KEY_ID).ok_or("bad key ID")?;
    let request = GenerateDataKeyRequest::new(key_id)
        .with_length(DataKeyLength::AES_256)
        .with_context(&context);
    let generated =
        ops::generate_data_key(provider, &caller, &request, &mut OsRng)?.into_result()?;
    let data_key = DataKey::try_from(&generated)?;
    let params = SealParams::new(&generated.ciphertext_blob).with_context(&context);
    let mut input = BufReader::new(File::open(&args.input)?);
    let mut bytes = 0;
    write_output(&args.output, args.force, |out| {
        let mut writer = EncryptWriter::new(out, &data_key, &params, &mut OsRng)?;
        bytes = io::copy(&mut input, &mut writer)?;
        writer.finish()?.flush()?;
        Ok(())
    })?;
    eprintln!(
        "encrypted {bytes} bytes into {} (key version {}, context {})",
        args.output.display(),
        generated.key_version_id,
        context.to_json()
    );
    Ok(())
}

fn decrypt(args: &Args, provider: &FixedCapacityProvider<1>) -> Result<()> {
    let caller = Caller::new(ACCOUNT, REGION);
    let expected = args.context.as_deref().map(context).transpose()?;
    let input = BufReader::new(File::open(&args.input)?);
    let mut found = String::new();
    let mut reader = DecryptReader::new(input, |header: &Header<'_>| {
        found = header.context().to_json();
        if let Some(expected) = &expected
            && header.context() != expected.as_context()
        {
            let expected = expected.to_json();
            return Err(format!("the file's context is {found}, not {expected}").into());
        }
        Ok::<_, Box<dyn std::error::Error>>(header.decrypt(provider, &caller, &mut OsRng)?)
    })?;
    let mut bytes = 0;
    write_output(&args.output, args.force, |out| {
        // `io::copy` returns Ok only once the reader has reached the end of a complete,
        // authentic envelope; before that, OUT is not in place.
        bytes = io::copy(&mut reader, out)?;
        Ok(())
    })?;
    eprintln!(
        "decrypted {bytes} bytes into {} (context {found})",
        args.output.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("envelope_file: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = master_key(args.master_key.clone())
        .and_then(provider)
        .and_then(|provider| {
            if args.encrypt {
                encrypt(&args, &provider)
            } else {
                decrypt(&args, &provider)
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envelope_file: {e}");
            ExitCode::FAILURE
        }
    }
}
