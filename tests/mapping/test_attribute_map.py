"""The declarative map against the schema registry, and the run-time guarantee that nothing is lost."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

import pytest
from email2chat.mapping import AttributeMapInvalid, AttributeMapper, as_attribute_text
from hypothesis import given, settings
from hypothesis import strategies as st


def registry(path: str) -> Any:
    return json.loads(resources.files("email2chat.mapping").joinpath(path).read_text(encoding="utf-8"))


@functools.cache
def default_mapper() -> AttributeMapper:
    return AttributeMapper.load_default()


@pytest.fixture
def mapper() -> AttributeMapper:
    return default_mapper()


# --- the registry ---------------------------------------------------------------------------------


def test_every_email_schema_attribute_has_a_chat_mapping(mapper: AttributeMapper) -> None:
    assert mapper.unmapped_email_attributes() == []
    email_properties = set(registry("schemas/email_attributes.schema.json")["properties"])
    assert email_properties <= set(mapper.mappings)


def test_the_guides_trap_attributes_land_on_chat_side_names(mapper: AttributeMapper) -> None:
    chat_properties = set(registry("schemas/chat_attributes.schema.json")["properties"])
    assert "Account_ID" not in chat_properties  # the channels really differ: copying names would lose data
    assert mapper.mappings["Account_ID"] == "context.accountId"
    assert mapper.mappings["Product_Type"] == "context.productType"
    result = mapper.map({"Account_ID": "ACC-1001", "Product_Type": "Fibre 900"})
    assert result.attributes == {"context.accountId": "ACC-1001", "context.productType": "Fibre 900"}
    assert result.violations == ()


def test_a_map_missing_an_email_attribute_fails_at_load_and_is_listed() -> None:
    broken = registry("attribute_map.json")
    del broken["mappings"]["Product_Type"]
    with pytest.raises(AttributeMapInvalid, match="Product_Type"):
        AttributeMapper.from_documents(broken)
    lenient = AttributeMapper.from_documents(broken, strict=False)
    assert lenient.unmapped_email_attributes() == ["Product_Type"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["mappings"].update({"Account_ID": "context.accountNumber"}),
            "no such chat-schema property",
        ),
        (lambda m: m["mappings"].update({"Region": "context.accountId"}), "one would be lost"),
        (lambda m: m["mappings"].update({"Legacy_Field": "context.region"}), "not in the email schema"),
        (lambda m: m["mappings"].update({"Region": "channelType"}), "set by the workflow"),
        (
            lambda m: m.update({"unknownAttributes": {"policy": "drop", "collisionPrefix": "x."}}),
            "fit its schema",
        ),
        (lambda m: m.pop("mappings"), "fit its schema"),
    ],
)
def test_a_map_that_would_lose_or_misplace_data_is_refused(change: Any, message: str) -> None:
    document = copy.deepcopy(registry("attribute_map.json"))
    change(document)
    with pytest.raises(AttributeMapInvalid, match=message):
        AttributeMapper.from_documents(document)


def test_chat_targets_must_be_strings() -> None:
    chat = copy.deepcopy(registry("schemas/chat_attributes.schema.json"))
    chat["properties"]["context.region"] = {"type": "integer"}
    with pytest.raises(AttributeMapInvalid, match="must be strings"):
        AttributeMapper.from_documents(registry("attribute_map.json"), chat_schema=chat)


# --- run time -------------------------------------------------------------------------------------


def test_unknown_attributes_pass_through_and_are_counted(mapper: AttributeMapper) -> None:
    result = mapper.map({"Account_ID": "ACC-1001", "Loyalty_Points": 1200, "Preferred_Agent": "A. Smith"})
    assert result.attributes == {
        "context.accountId": "ACC-1001",
        "Loyalty_Points": "1200",
        "Preferred_Agent": "A. Smith",
    }
    assert result.mapped == ("Account_ID",)
    assert sorted(result.passed_through) == ["Loyalty_Points", "Preferred_Agent"]


def test_an_unknown_name_that_collides_with_a_chat_property_is_kept_under_a_prefix(
    mapper: AttributeMapper,
) -> None:
    result = mapper.map({"channelType": "email", "context.accountId": "spoofed", "Account_ID": "ACC-1001"})
    assert result.attributes["context.accountId"] == "ACC-1001"  # the mapped value wins its own name
    assert result.attributes["email.context.accountId"] == "spoofed"
    assert result.attributes["email.channelType"] == "email"  # the workflow owns channelType
    assert "channelType" not in result.attributes
    assert dict(result.renamed) == {
        "channelType": "email.channelType",
        "context.accountId": "email.context.accountId",
    }


def test_values_become_strings_without_losing_information() -> None:
    assert as_attribute_text("text") == "text"
    assert as_attribute_text(None) == ""
    assert as_attribute_text(True) == "true"
    assert as_attribute_text(42) == "42"
    assert as_attribute_text(0.93) == "0.93"
    assert as_attribute_text(1.2e-05) == "0.000012"  # no exponent: fits the chat schema's number pattern
    assert as_attribute_text({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'


def test_schema_violations_are_reported_without_values_and_the_data_is_kept(mapper: AttributeMapper) -> None:
    result = mapper.map({"Account_ID": "not valid!", "Customer_Tier": "Diamond", "Urgency_Score": 1.7})
    assert result.attributes["context.accountId"] == "not valid!"
    assert result.attributes["context.customerTier"] == "Diamond"
    joined = " ".join(result.violations)
    assert "Account_ID" in joined
    assert "Customer_Tier" in joined
    assert "Urgency_Score" in joined
    assert "not valid!" not in joined
    assert "Diamond" not in joined


def test_a_full_realistic_email_maps_cleanly(mapper: AttributeMapper) -> None:
    email = {
        "Account_ID": "ACC-77812",
        "Customer_ID": "cust-5521",
        "Customer_Tier": "Gold",
        "Product_Type": "Business Broadband",
        "Language": "en-GB",
        "Region": "EMEA",
        "Case_Number": "CS-0042117",
        "CRM_Transaction_Id": "crm-tx-9f1c",
        "Email_Subject": "Outage at our Leeds office",
        "Original_Conversation_Id": "7c1b2a4e-1f0e-4c1a-9d2b-5f8e1a2b3c4d",
        "Queue_Name": "Support - Business",
        "Priority": 5,
        "SLA_Deadline": "2026-11-26T09:30:00Z",
        "Urgency_Score": 0.97,
        "Queue_Wait_Minutes": 17.5,
    }
    result = mapper.map(email)
    assert result.violations == ()
    assert result.passed_through == ()
    assert len(result.attributes) == len(email)


attribute_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
attribute_values = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(
    email=st.dictionaries(
        st.one_of(st.sampled_from(sorted(registry("attribute_map.json")["mappings"])), attribute_names),
        attribute_values,
        max_size=20,
    )
)
def test_property_no_email_attribute_is_ever_lost(email: dict[str, Any]) -> None:
    mapper = default_mapper()
    result = mapper.map(email)
    assert len(result.attributes) == len(email)  # one chat attribute per email attribute, no overwrite
    assert sorted(result.mapped + result.passed_through) == sorted(email)
    assert all(isinstance(v, str) for v in result.attributes.values())
    stored_as = {**{k: mapper.mappings[k] for k in result.mapped}, **{k: k for k in result.passed_through}}
    stored_as.update(dict(result.renamed))
    for name, value in email.items():
        assert result.attributes[stored_as[name]] == as_attribute_text(value)
