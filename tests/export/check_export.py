"""Reads an HP-ECMO export back as a statistician's tools would, and says what it found.

    python check_export.py FOLDER

Every CSV table is read with pandas using the types the data dictionary names
(integer, decimal, boolean, datetime, local_datetime, date, choice, text): a value
that does not parse as its type, a choice outside its list, a number outside its
range, or a local time that is not the same instant as its UTC twin fails the
check. The ODM file is validated with xmllint against the ODM 1.3.2 schema that
PyPI's odmlib ships, and read back with an XML parser: every OID a reference
names must be defined in the file (the schema does not check that), every item
of a ClinicalData block must be defined in its MetaDataVersion, and every
ItemData must carry an AuditRecord naming a defined user and location, and the
transactions applied in file order must end at the values the CSV tables hold.

Prints one JSON object on stdout: the rows pandas read per table, the withdrawal
reasons as pandas and the XML parser read them (free text with commas, quotes and
line breaks), and what the ODM file holds. Exits 1 with the reasons on stderr when anything fails.
"""

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import odmlib
import pandas as pd

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
SCHEMA = Path(odmlib.__file__).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
DTYPES = {"integer": "Int64", "decimal": "Float64", "boolean": "boolean"}

problems = []
# The free texts of withdrawals as each reader reads them back, to compare with
# what was entered.
withdrawal_reasons = []


def read_tables(folder):
    dictionary = pd.read_csv(folder / "dictionary.csv", dtype="string", keep_default_na=False)
    rows = {}
    for table, columns in dictionary.groupby("table", sort=False):
        dtypes = {column: DTYPES.get(kind, "string") for column, kind in zip(columns.column, columns.type)}
        frame = pd.read_csv(folder / table, dtype=dtypes, keep_default_na=False, na_values=[""])
        if list(frame.columns) != list(columns.column):
            problems.append(f"{table}: header {list(frame.columns)} is not the dictionary's")
            continue
        for column in columns.itertuples():
            check_column(table, frame, column)
        rows[table] = len(frame)
        if table == "participants.csv":
            withdrawal_reasons.extend(frame["withdrawal_reason"].dropna())
    return rows


def check_column(table, frame, column):
    values = frame[column.column]
    present = values.dropna()
    where = f"{table}.{column.column}"
    if column.type in ("datetime", "local_datetime"):
        try:
            instants = pd.to_datetime(present, format="ISO8601", utc=True)
        except ValueError as error:
            problems.append(f"{where}: not ISO 8601: {error}")
            return
        if column.type == "datetime" and not present.str.endswith("Z").all():
            problems.append(f"{where}: a UTC time without Z")
        if column.type == "local_datetime":
            utc_twin = column.column.removesuffix("_local")
            utc = pd.to_datetime(frame[utc_twin].dropna(), format="ISO8601", utc=True)
            if not instants.equals(utc):
                problems.append(f"{where}: not the same instants as {utc_twin}")
    elif column.type == "date":
        try:
            pd.to_datetime(present, format="%Y-%m-%d")
        except ValueError as error:
            problems.append(f"{where}: not a date: {error}")
    elif column.type == "choice":
        allowed = set(column.choices.split("|"))
        outside = set(present) - allowed
        if outside:
            problems.append(f"{where}: {sorted(outside)} not among {sorted(allowed)}")
    if column.type in ("integer", "decimal") and column.min != "":
        low, high = float(column.min), float(column.max)
        outside = present[(present < low) | (present > high)]
        if len(outside):
            problems.append(f"{where}: {list(outside)} outside {low} to {high}")


def check_odm(path):
    validated = subprocess.run(
        ["xmllint", "--noout", "--nonet", "--schema", str(SCHEMA), str(path)],
        capture_output=True,
        text=True,
    )
    if validated.returncode != 0:
        problems.append(f"xmllint: {validated.stderr[-4000:]}")
    root = ElementTree.parse(path).getroot()
    defined = {element.get("OID") for element in root.iter() if element.get("OID")}
    defined.add(root.get("FileOID"))
    unresolved = sorted(
        {
            f"{name}={value}"
            for element in root.iter()
            for name, value in element.attrib.items()
            if name.endswith("OID") and name not in ("OID", "FileOID") and value not in defined
        }
    )
    if unresolved:
        problems.append(f"ODM: OID references without a definition: {unresolved}")
    users = {user.get("OID") for user in root.iter(ODM + "User")}
    locations = {location.get("OID") for location in root.iter(ODM + "Location")}
    items_of = {
        version.get("OID"): {item.get("OID") for item in version.iter(ODM + "ItemDef")}
        for version in root.iter(ODM + "MetaDataVersion")
    }
    for version in root.iter(ODM + "MetaDataVersion"):
        for ref in version.iter(ODM + "ItemRef"):
            if ref.get("ItemOID") not in items_of[version.get("OID")]:
                problems.append(f"{version.get('OID')}: ItemRef {ref.get('ItemOID')} is not defined in it")
    summary = {
        "item_data": 0,
        "audited": 0,
        "inserts": 0,
        "updates": 0,
        "reasons": 0,
        "subjects": set(),
        "withdrawal_reasons": [],
    }
    for block in root.iter(ODM + "ClinicalData"):
        version = block.get("MetaDataVersionOID")
        for subject in block.iter(ODM + "SubjectData"):
            summary["subjects"].add(subject.get("SubjectKey"))
        for item in block.iter(ODM + "ItemData"):
            summary["item_data"] += 1
            oid = item.get("ItemOID")
            if oid not in items_of.get(version, set()):
                problems.append(f"ItemData {oid} is not an item of {version}")
            kind = item.get("TransactionType")
            summary["inserts" if kind == "Insert" else "updates"] += 1
            audit = item.find(ODM + "AuditRecord")
            if audit is None:
                problems.append(f"ItemData {oid} has no AuditRecord")
                continue
            user = audit.find(ODM + "UserRef")
            location = audit.find(ODM + "LocationRef")
            stamp = audit.find(ODM + "DateTimeStamp")
            source = audit.find(ODM + "SourceID")
            if user is None or user.get("UserOID") not in users:
                problems.append(f"ItemData {oid}: its AuditRecord names no user of AdminData")
            elif location is None or location.get("LocationOID") not in locations:
                problems.append(f"ItemData {oid}: its AuditRecord names no location of AdminData")
            elif stamp is None or not stamp.text.endswith("Z") or source is None or not source.text:
                problems.append(f"ItemData {oid}: its AuditRecord lacks a UTC time or a source")
            else:
                summary["audited"] += 1
            if audit.find(ODM + "ReasonForChange") is not None:
                summary["reasons"] += 1
            if oid == "IT.withdrawal_reason":
                summary["withdrawal_reasons"].append(item.get("Value"))
    summary["subjects"] = len(summary["subjects"])
    summary["metadata_versions"] = sorted(items_of)
    return summary


# The form tables, the StudyEventDef of each, and the column naming the instance.
FORMS = {
    "baseline.csv": ("SE.BASELINE", None),
    "cytokine_sample.csv": ("SE.CYTOKINE_SAMPLE", "time_point"),
    "hemoperfusion_session.csv": ("SE.HEMOPERFUSION_SESSION", "session_id"),
    "daily_assessment.csv": ("SE.DAILY_ASSESSMENT", "study_day"),
    "adverse_event.csv": ("SE.ADVERSE_EVENT", "adverse_event_id"),
    "outcomes.csv": ("SE.OUTCOMES", None),
}


def replay(folder):
    """Applies the ODM file's transactions in file order and compares the result
    with every form value of the CSV tables: the two files agree on where every
    value stands. Returns how many values were compared."""
    values = {}
    root = ElementTree.parse(folder / "hp-ecmo.odm.xml").getroot()
    for subject in root.iter(ODM + "SubjectData"):
        for event in subject.iter(ODM + "StudyEventData"):
            instance = (subject.get("SubjectKey"), event.get("StudyEventOID"), event.get("StudyEventRepeatKey"))
            for item in event.iter(ODM + "ItemData"):
                key = instance + (item.get("ItemOID"),)
                if item.get("TransactionType") == "Remove" or item.get("IsNull") == "Yes":
                    values.pop(key, None)
                else:
                    values[key] = item.get("Value")
    dictionary = pd.read_csv(folder / "dictionary.csv", dtype="string", keep_default_na=False)
    compared = 0
    for table, (study_event, instance_column) in FORMS.items():
        items = dictionary[(dictionary.table == table) & (dictionary["item"] != "")]
        fields = [column for column, item in zip(items.column, items["item"]) if column == item]
        frame = pd.read_csv(folder / table, dtype="string", keep_default_na=False)
        for row in frame.to_dict("records"):
            repeat = row[instance_column] if instance_column else None
            for field in fields:
                key = (row["participant_id"], study_event, repeat, "IT." + field)
                expected = row[field] or None
                if values.get(key) != expected:
                    problems.append(
                        f"{table} {key}: the CSV holds {expected!r}, the ODM file ends at {values.get(key)!r}"
                    )
                compared += 1
    return compared


def main():
    folder = Path(sys.argv[1])
    result = {
        "tables": read_tables(folder),
        "withdrawal_reasons": withdrawal_reasons,
        "odm": check_odm(folder / "hp-ecmo.odm.xml"),
        "replayed": replay(folder),
    }
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
