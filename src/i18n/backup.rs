//! The backup screens' words (tablet and console share them), `[English,
//! Chinese]` side by side as in `strings.rs`, and the sentences that carry
//! numbers: what a file is, how an import ended, why a file was refused.

use trial::backup::{
    BackupError, BackupHeader, ImportOutcome, MAX_PASSPHRASE_CHARS, MIN_PASSPHRASE_CHARS,
    PassphraseError,
};

use super::{Lang, pick};
use crate::backup::BackupFailure;

/// A text of the backup screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant is the text of the same name below.
pub enum Bt {
    Title,
    WriteTitle,
    WriteHelp,
    Passphrase,
    PassphraseAgain,
    PassphrasesDiffer,
    Write,
    Writing,
    Save,
    ImportTitle,
    ImportHelp,
    File,
    NoFile,
    Import,
    Importing,
    Reading,
    Sending,
    Link,
    NotEnrolled,
    SendFailed,
}

/// `text` in `lang`.
pub fn bt(lang: Lang, text: Bt) -> &'static str {
    pick(
        lang,
        match text {
            Bt::Title => ["Backup", "备份"],
            Bt::WriteTitle => ["Write a backup", "写入备份"],
            Bt::WriteHelp => [
                "Saves every record on this tablet, synced or not, to a file encrypted with a passphrase you choose. Keep the file and the passphrase apart: without the passphrase nobody can read it, you included.",
                "将本平板上的全部记录（无论是否已同步）保存为一个文件，并用您设定的备份密码加密。请将文件与备份密码分开保管：没有备份密码，任何人（包括您自己）都无法读取。",
            ],
            Bt::Passphrase => ["Backup passphrase", "备份密码"],
            Bt::PassphraseAgain => ["Backup passphrase again", "再次输入备份密码"],
            Bt::PassphrasesDiffer => [
                "The two passphrases differ: type the same one twice",
                "两次输入的备份密码不一致，请重新输入",
            ],
            Bt::Write => ["Write backup", "写入备份"],
            Bt::Writing => ["Writing the backup…", "正在写入备份…"],
            Bt::Save => ["Save the file", "保存文件"],
            Bt::ImportTitle => ["Import a backup", "导入备份"],
            Bt::ImportHelp => [
                "Reads a backup file written on a tablet of this site, checks it, and sends the server every record it lacks. Records the server holds already are left as they are, so importing a file twice changes nothing.",
                "读取本中心平板写入的备份文件，核验后将服务器缺少的记录全部发送至服务器。服务器已有的记录保持不变，因此同一文件导入两次不会有任何改动。",
            ],
            Bt::File => ["Backup file", "备份文件"],
            Bt::NoFile => ["Choose a backup file first", "请先选择备份文件"],
            Bt::Import => ["Import backup", "导入备份"],
            Bt::Importing => ["Importing…", "正在导入…"],
            Bt::Reading => [
                "Checking the file and its passphrase",
                "正在核验文件及备份密码",
            ],
            Bt::Sending => ["Records sent", "已发送记录"],
            Bt::Link => ["Backup of this tablet", "本平板备份"],
            Bt::SendFailed => [
                "The server did not take the backup; what it took before stays, and importing the file again goes on from there",
                "服务器未接收该备份；此前已接收的记录保留，重新导入该文件将从中断处继续",
            ],
            Bt::NotEnrolled => [
                "Enrol this tablet with the server first: a backup names its site and tablet.",
                "请先将本平板注册到服务器：备份文件需注明所属中心和平板。",
            ],
        },
    )
}

/// Why a passphrase for a new backup is refused, naming the allowed length.
pub fn passphrase_error(lang: Lang, error: PassphraseError) -> String {
    match (lang, error) {
        (Lang::En, PassphraseError::TooShort { chars }) => format!(
            "Backup passphrase: at least {MIN_PASSPHRASE_CHARS} characters (this one has {chars})"
        ),
        (Lang::Zh, PassphraseError::TooShort { chars }) => {
            format!("备份密码：至少 {MIN_PASSPHRASE_CHARS} 个字符（当前 {chars} 个）")
        }
        (Lang::En, PassphraseError::TooLong { chars }) => format!(
            "Backup passphrase: at most {MAX_PASSPHRASE_CHARS} characters (this one has {chars})"
        ),
        (Lang::Zh, PassphraseError::TooLong { chars }) => {
            format!("备份密码：最多 {MAX_PASSPHRASE_CHARS} 个字符（当前 {chars} 个）")
        }
    }
}

/// "Written: 1,234 records in hp-ecmo-backup-….hpbackup."
pub fn written(lang: Lang, events: usize, file_name: &str) -> String {
    match lang {
        Lang::En => format!(
            "Backup written: {}, in the file {file_name}.",
            records(events as u64)
        ),
        Lang::Zh => format!("备份已写入：共 {events} 条记录，文件名 {file_name}。"),
    }
}

/// What a file holds, read from its header before the passphrase is asked.
pub fn header_line(lang: Lang, header: &BackupHeader) -> String {
    let at = jiff::Timestamp::from_millisecond(header.written_at_ms)
        .map(|at| at.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    match lang {
        Lang::En => format!(
            "Tablet {} of site {}: {}, written {at}.",
            header.device_label,
            header.site,
            records(header.events)
        ),
        Lang::Zh => format!(
            "{} 中心平板 {}：共 {} 条记录，写入时间 {at}。",
            header.site, header.device_label, header.events
        ),
    }
}

/// How an import ended.
pub fn outcome(lang: Lang, outcome: ImportOutcome) -> String {
    match (lang, outcome) {
        (Lang::En, ImportOutcome::AlreadyHeld { events }) => format!(
            "This backup was imported already: the server holds all of its {}. Nothing was changed.",
            records(events)
        ),
        (Lang::Zh, ImportOutcome::AlreadyHeld { events }) => {
            format!("该备份已导入过：其全部 {events} 条记录服务器均已存有，未作任何改动。")
        }
        (Lang::En, ImportOutcome::Imported { stored, held }) => format!(
            "Imported: {} the server lacked stored now; {held} it held already left as they were.",
            records(stored)
        ),
        (Lang::Zh, ImportOutcome::Imported { stored, held }) => {
            format!("导入完成：服务器缺少的 {stored} 条记录现已存入；已有的 {held} 条保持不变。")
        }
        (Lang::En, ImportOutcome::Refused { stored, rejected }) => format!(
            "Stored: {}; the server refused or flagged {rejected}. The coordinator sees them in the console (data queries, allocation audit).",
            records(stored)
        ),
        (Lang::Zh, ImportOutcome::Refused { stored, rejected }) => format!(
            "已存入 {stored} 条记录；服务器拒收或标记了 {rejected} 条，协调员可在管理端（数据质疑、随机分组核查）查看。"
        ),
    }
}

/// Why a backup could not be written, read or sent. Nothing stored was
/// changed by any of these.
pub fn failure(lang: Lang, failure: &BackupFailure) -> String {
    match failure {
        BackupFailure::File(error) => file_error(lang, error),
        BackupFailure::Crypto(error) => super::crypto_error(lang, error),
        BackupFailure::Store(error) => super::store_error(lang, error),
        BackupFailure::Send(detail) => {
            super::sentence_with_detail(lang, bt(lang, Bt::SendFailed), detail)
        }
        BackupFailure::NotEnrolled => bt(lang, Bt::NotEnrolled).to_owned(),
    }
}

fn file_error(lang: Lang, error: &BackupError) -> String {
    let [en, zh] = match error {
        BackupError::NotABackup => [
            "This file is not an HP-ECMO backup: choose the .hpbackup file the tablet wrote."
                .to_owned(),
            "该文件不是 HP-ECMO 备份文件，请选择平板写入的备份文件（扩展名为 hpbackup）。".to_owned(),
        ],
        BackupError::NewerFormat { version } => [
            format!("This backup was written by a newer version of the app (format {version}): update the app, then import it."),
            format!("该备份由更新版本的应用写入（格式 {version}），请先更新应用再导入。"),
        ],
        BackupError::OtherTrial { trial } => [
            format!("This backup belongs to another trial ({trial}), not to HP-ECMO ({}). Nothing was imported.", trial::backup::TRIAL),
            format!("该备份属于其他研究（{trial}），不属于 HP-ECMO（{}），未导入任何内容。", trial::backup::TRIAL),
        ],
        BackupError::Truncated { found, expected } => [
            format!("This backup is incomplete: only {found} of its {expected} bytes are there (the copy was cut short). Copy the file again from where it was saved."),
            format!("该备份不完整：{expected} 字节中仅有 {found} 字节（复制未完成），请从原保存位置重新复制。"),
        ],
        BackupError::Altered => [
            "This backup was changed or damaged after it was written, so it cannot be trusted. Nothing was imported.".to_owned(),
            "该备份在写入后被修改或已损坏，无法信任，未导入任何内容。".to_owned(),
        ],
        BackupError::WrongPassphrase => [
            "Backup passphrase: this is not the passphrase the backup was written with.".to_owned(),
            "备份密码：与写入该备份时设定的备份密码不一致。".to_owned(),
        ],
        BackupError::ChainBroken { .. } => [
            format!("The records in this backup do not hold together ({error}): it was not written by this app. Nothing was imported."),
            format!("该备份中的记录链不完整（{error}），并非由本应用写入，未导入任何内容。"),
        ],
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// "1 record", "2 records".
fn records(count: u64) -> String {
    match count {
        1 => "1 record".to_owned(),
        _ => format!("{count} records"),
    }
}
