#!/usr/bin/env python3
"""Renders the public API of a library crate from rustdoc's JSON, one item per line, sorted.

Used by scripts/public-api.sh, which builds the JSON and compares the result with api/<crate>.txt,
so that every change to what a library exposes shows up as a diff in review. The rendering is
deliberately plain: paths, kinds, function signatures, fields, variants and trait impls; no docs.

Usage: public_api.py <rustdoc json file>
"""

import json
import sys

# Traits whose impls say nothing a reviewer of the API needs (every type has them or they are
# derived noise); listing them would make each diff long for no reason.
QUIET_TRAITS = {
    "Any", "Borrow", "BorrowMut", "From", "Into", "TryFrom", "TryInto", "ToOwned", "CloneToUninit",
    "Freeze", "RefUnwindSafe", "UnwindSafe", "Unpin", "Same", "VZip", "Instrument", "WithSubscriber",
    "StructuralPartialEq", "ToString", "Equivalent", "Comparable", "DeserializeOwned",
}


class Renderer:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.lines = set()

    def item(self, item_id):
        return self.index.get(str(item_id))

    def path_of(self, item_id, fallback):
        known = self.paths.get(str(item_id))
        return "::".join(known["path"]) if known else fallback

    # Types ---------------------------------------------------------------------------------

    def ty(self, t):
        if t is None:
            return "()"
        if "resolved_path" in t:
            p = t["resolved_path"]
            return p["path"] + self.generic_args(p.get("args"))
        if "primitive" in t:
            return t["primitive"]
        if "generic" in t:
            return t["generic"]
        if "borrowed_ref" in t:
            r = t["borrowed_ref"]
            life = (r["lifetime"] + " ") if r.get("lifetime") else ""
            mut = "mut " if r["is_mutable"] else ""
            return f"&{life}{mut}{self.ty(r['type'])}"
        if "raw_pointer" in t:
            r = t["raw_pointer"]
            return ("*mut " if r["is_mutable"] else "*const ") + self.ty(r["type"])
        if "tuple" in t:
            inner = ", ".join(self.ty(x) for x in t["tuple"])
            return f"({inner})"
        if "slice" in t:
            return f"[{self.ty(t['slice'])}]"
        if "array" in t:
            return f"[{self.ty(t['array']['type'])}; {t['array']['len']}]"
        if "impl_trait" in t:
            return "impl " + " + ".join(self.bound(b) for b in t["impl_trait"])
        if "dyn_trait" in t:
            traits = [
                p["trait"]["path"] + self.generic_args(p["trait"].get("args"))
                for p in t["dyn_trait"]["traits"]
            ]
            if t["dyn_trait"].get("lifetime"):
                traits.append(t["dyn_trait"]["lifetime"])
            return "dyn " + " + ".join(traits)
        if "qualified_path" in t:
            q = t["qualified_path"]
            trait = q.get("trait")
            base = self.ty(q["self_type"])
            if trait:
                return f"<{base} as {trait['path']}>::{q['name']}"
            return f"{base}::{q['name']}"
        if "function_pointer" in t:
            f = t["function_pointer"]
            return "fn" + self.signature(f["sig"])
        if "infer" in t:
            return "_"
        return "?"

    def generic_args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            parts = []
            for a in args["angle_bracketed"]["args"]:
                if "type" in a:
                    parts.append(self.ty(a["type"]))
                elif "lifetime" in a:
                    parts.append(a["lifetime"])
                elif "const" in a:
                    parts.append(str(a["const"].get("expr", "_")))
                else:
                    parts.append("_")
            for c in args["angle_bracketed"].get("constraints", []):
                binding = c.get("binding", {})
                if "equality" in binding and "type" in binding["equality"]:
                    parts.append(f"{c['name']} = {self.ty(binding['equality']['type'])}")
                else:
                    parts.append(c["name"])
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            inputs = ", ".join(self.ty(x) for x in p["inputs"])
            out = f" -> {self.ty(p['output'])}" if p.get("output") else ""
            return f"({inputs}){out}"
        return ""

    def bound(self, b):
        if "trait_bound" in b:
            tb = b["trait_bound"]
            modifier = "?" if tb.get("modifier") == "maybe" else ""
            return modifier + tb["trait"]["path"] + self.generic_args(tb["trait"].get("args"))
        if "outlives" in b:
            return b["outlives"]
        return "?"

    def generics(self, g):
        params = []
        for p in g.get("params", []):
            kind = p["kind"]
            if "lifetime" in kind:
                params.append(p["name"])
            elif "type" in kind:
                if kind["type"].get("is_synthetic"):
                    continue
                bounds = kind["type"].get("bounds", [])
                rendered = " + ".join(self.bound(b) for b in bounds)
                params.append(p["name"] + (f": {rendered}" if rendered else ""))
            elif "const" in kind:
                params.append(f"const {p['name']}: {self.ty(kind['const']['type'])}")
        return f"<{', '.join(params)}>" if params else ""

    def signature(self, sig):
        inputs = []
        for name, t in sig["inputs"]:
            if name == "self":
                inputs.append(self.self_param(t))
            else:
                inputs.append(f"{name}: {self.ty(t)}")
        out = f" -> {self.ty(sig['output'])}" if sig.get("output") else ""
        return f"({', '.join(inputs)}){out}"

    @staticmethod
    def self_param(t):
        if "generic" in t and t["generic"] == "Self":
            return "self"
        if "borrowed_ref" in t:
            return "&mut self" if t["borrowed_ref"]["is_mutable"] else "&self"
        return "self"

    def function(self, name, f):
        header = f.get("header", {})
        qualifiers = "".join(
            word + " "
            for word, on in (("const", header.get("is_const")), ("async", header.get("is_async")))
            if on
        )
        return f"{qualifiers}fn {name}{self.generics(f['generics'])}{self.signature(f['sig'])}"

    # Items ---------------------------------------------------------------------------------

    def emit(self, line):
        self.lines.add(line)

    def module(self, path, module_id, seen):
        if module_id in seen:
            return
        seen.add(module_id)
        module = self.item(module_id)
        for child_id in module["inner"]["module"]["items"]:
            child = self.item(child_id)
            if child is None or child.get("visibility") != "public":
                continue
            self.public_item(path, child, seen)

    def public_item(self, path, item, seen):
        inner = item["inner"]
        kind = next(iter(inner))
        body = inner[kind]
        name = item.get("name")
        here = f"{path}::{name}" if name else path
        if kind == "use":
            target = body.get("id")
            local = self.item(target) if target is not None else None
            if body["is_glob"]:
                if local is not None and "module" in local["inner"]:
                    self.module(path, target, seen)
                else:
                    self.emit(f"pub use {body['source']}::* in {path}")
            elif local is not None:
                renamed = dict(local)
                renamed["name"] = body["name"]
                self.public_item(path, renamed, seen)
            else:
                self.emit(f"pub use {body['source']} as {path}::{body['name']}")
            return
        if kind == "module":
            self.emit(f"pub mod {here}")
            self.module(here, item["id"], seen)
        elif kind == "function":
            self.emit(f"pub {self.function(here, body)}")
        elif kind == "struct":
            self.struct(here, item, body)
        elif kind == "enum":
            self.enum(here, item, body)
        elif kind == "trait":
            self.trait(here, item, body)
        elif kind == "type_alias":
            self.emit(f"pub type {here}{self.generics(body['generics'])} = {self.ty(body['type'])}")
        elif kind == "constant":
            self.emit(f"pub const {here}: {self.ty(body['type'])}")
        elif kind == "static":
            self.emit(f"pub static {here}: {self.ty(body['type'])}")
        elif kind == "macro":
            self.emit(f"pub macro {here}!")
        else:
            self.emit(f"pub {kind} {here}")

    @staticmethod
    def attributes(item):
        attrs = item.get("attrs", [])
        text = json.dumps(attrs)
        return " #[non_exhaustive]" if "non_exhaustive" in text else ""

    def struct(self, here, item, body):
        generics = self.generics(body["generics"])
        self.emit(f"pub struct {here}{generics}{self.attributes(item)}")
        kind = body["kind"]
        if isinstance(kind, dict) and "plain" in kind:
            for field_id in kind["plain"]["fields"]:
                field = self.item(field_id)
                if field and field.get("visibility") == "public":
                    self.emit(f"pub {here}::{field['name']}: {self.ty(field['inner']['struct_field'])}")
        elif isinstance(kind, dict) and "tuple" in kind:
            for position, field_id in enumerate(kind["tuple"]):
                field = self.item(field_id) if field_id is not None else None
                if field and field.get("visibility") == "public":
                    self.emit(f"pub {here}::{position}: {self.ty(field['inner']['struct_field'])}")
        self.impls(here, body["impls"])

    def enum(self, here, item, body):
        self.emit(f"pub enum {here}{self.generics(body['generics'])}{self.attributes(item)}")
        for variant_id in body["variants"]:
            variant = self.item(variant_id)
            vkind = variant["inner"]["variant"]["kind"]
            fields = ""
            if isinstance(vkind, dict) and "struct" in vkind:
                names = []
                for field_id in vkind["struct"]["fields"]:
                    field = self.item(field_id)
                    names.append(f"{field['name']}: {self.ty(field['inner']['struct_field'])}")
                fields = " { " + ", ".join(names) + " }"
            elif isinstance(vkind, dict) and "tuple" in vkind:
                types = []
                for field_id in vkind["tuple"]:
                    field = self.item(field_id) if field_id is not None else None
                    types.append(self.ty(field["inner"]["struct_field"]) if field else "_")
                fields = "(" + ", ".join(types) + ")"
            self.emit(f"pub {here}::{variant['name']}{fields}{self.attributes(variant)}")
        self.impls(here, body["impls"])

    def trait(self, here, item, body):
        unsafety = "unsafe " if body.get("is_unsafe") else ""
        bounds = " + ".join(self.bound(b) for b in body.get("bounds", []))
        self.emit(
            f"pub {unsafety}trait {here}{self.generics(body['generics'])}"
            + (f": {bounds}" if bounds else "")
        )
        for member_id in body["items"]:
            member = self.item(member_id)
            mkind = next(iter(member["inner"]))
            if mkind == "function":
                provided = " (provided)" if member["inner"]["function"].get("has_body") else ""
                self.emit(f"pub {self.function(here + '::' + member['name'], member['inner']['function'])}{provided}")
            elif mkind == "assoc_type":
                self.emit(f"pub type {here}::{member['name']}")
            elif mkind == "assoc_const":
                self.emit(f"pub const {here}::{member['name']}")

    def impls(self, here, impl_ids):
        for impl_id in impl_ids:
            impl = self.item(impl_id)
            if impl is None:
                continue
            body = impl["inner"]["impl"]
            if body.get("is_synthetic") or body.get("blanket_impl") is not None:
                continue
            trait = body.get("trait")
            if trait is not None:
                if trait["path"].split("::")[-1] in QUIET_TRAITS:
                    continue
                negative = "!" if body.get("is_negative") else ""
                self.emit(
                    f"impl{self.generics(body['generics'])} {negative}{trait['path']}"
                    f"{self.generic_args(trait.get('args'))} for {self.ty(body['for'])}"
                )
                continue
            for member_id in body["items"]:
                member = self.item(member_id)
                if member is None or member.get("visibility") != "public":
                    continue
                mkind = next(iter(member["inner"]))
                if mkind == "function":
                    self.emit(f"pub {self.function(here + '::' + member['name'], member['inner']['function'])}")
                elif mkind == "assoc_const":
                    self.emit(f"pub const {here}::{member['name']}: " + self.ty(member["inner"]["assoc_const"]["type"]))


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        doc = json.load(file)
    renderer = Renderer(doc)
    root = renderer.item(doc["root"])
    crate = root["name"]
    renderer.module(crate, doc["root"], set())
    for line in sorted(renderer.lines):
        print(line)


if __name__ == "__main__":
    main()
