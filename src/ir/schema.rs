//! Entity declarations (```entity blocks) → the schema every rule is
//! checked against. Nothing here knows any particular entity.

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, EntityItem, RelationDef, TypeExpr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelationId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GraphId(pub u32);

/// The declared type of a field, as JSON must deliver it.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldType {
    String,
    Number,
    /// A number whose value is whole (`3`, `3.0`, `3e0`).
    Integer,
    Boolean,
    List(Box<FieldType>),
    Object(Vec<Field>),
}

impl FieldType {
    /// In words, for messages: "a number", "a list of strings".
    pub fn describe(&self) -> String {
        match self {
            FieldType::String => "a string".into(),
            FieldType::Number => "a number".into(),
            FieldType::Integer => "an integer".into(),
            FieldType::Boolean => "a boolean".into(),
            FieldType::List(e) => format!("a list of {}", plural(&e.describe())),
            FieldType::Object(fields) => {
                let names: Vec<_> = fields.iter().map(|f| format!("`{}`", f.name)).collect();
                format!("an object with {}", names.join(", "))
            }
        }
    }
}

fn plural(one: &str) -> String {
    let bare = one.trim_start_matches("an ").trim_start_matches("a ");
    format!("{bare}s")
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub optional: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum RelationKind {
    /// Each element of the list field `list` names, by its field `reference`,
    /// an entity of `target` whose key has that value. The edge runs from
    /// the named entity to the entity that holds the list.
    Forward { list: FieldId, reference: usize, target: EntityId },
    /// The same edges walked from the other end.
    Inverse(RelationId),
}

#[derive(Clone, Debug)]
pub struct Relation {
    pub name: String,
    pub span: Span,
    pub kind: RelationKind,
    pub entity: EntityId,
}

#[derive(Clone, Debug)]
pub struct Graph {
    pub name: String,
    pub span: Span,
    /// A forward relation: its edges are the graph's edges.
    pub relation: RelationId,
}

#[derive(Clone, Debug)]
pub struct Entity {
    pub name: String,
    pub span: Span,
    pub key: Option<FieldId>,
    pub collection: Option<String>,
    /// Fields whose values `check` tallies in its summary.
    pub summary: Vec<FieldId>,
    /// `fingerprint all but a, b`: the fields left out when records are
    /// compared for near-duplicates (the batch scores).
    pub fingerprint: Option<Vec<String>>,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub entities: Vec<Entity>,
    pub relations: Vec<Relation>,
    pub graphs: Vec<Graph>,
}

impl Schema {
    pub fn entity(&self, id: EntityId) -> &Entity {
        &self.entities[id.0 as usize]
    }
    pub fn entity_by_name(&self, name: &str) -> Option<EntityId> {
        self.entities.iter().position(|e| e.name == name).map(|i| EntityId(i as u32))
    }
    pub fn field(&self, entity: EntityId, field: FieldId) -> &Field {
        &self.entity(entity).fields[field.0 as usize]
    }
    pub fn field_by_name(&self, entity: EntityId, name: &str) -> Option<FieldId> {
        self.entity(entity).fields.iter().position(|f| f.name == name).map(|i| FieldId(i as u32))
    }
    pub fn relation(&self, id: RelationId) -> &Relation {
        &self.relations[id.0 as usize]
    }
    pub fn relation_by_name(&self, entity: EntityId, name: &str) -> Option<RelationId> {
        self.relations.iter().position(|r| r.entity == entity && r.name == name).map(|i| RelationId(i as u32))
    }
    pub fn graph(&self, id: GraphId) -> &Graph {
        &self.graphs[id.0 as usize]
    }
    pub fn graph_by_name(&self, name: &str) -> Option<GraphId> {
        self.graphs.iter().position(|g| g.name == name).map(|i| GraphId(i as u32))
    }
    /// The forward relation behind a relation, and whether it is walked
    /// backwards.
    pub fn forward(&self, id: RelationId) -> (RelationId, bool) {
        match self.relation(id).kind {
            RelationKind::Forward { .. } => (id, false),
            RelationKind::Inverse(of) => (of, true),
        }
    }
    /// The edge fields of a relation: the list element's fields other than
    /// the reference.
    pub fn edge_fields(&self, id: RelationId) -> Vec<(usize, &Field)> {
        let (forward, _) = self.forward(id);
        let RelationKind::Forward { list, reference, .. } = self.relation(forward).kind else { return vec![] };
        let entity = self.relation(forward).entity;
        match &self.field(entity, list).ty {
            FieldType::List(item) => match item.as_ref() {
                FieldType::Object(fields) => fields.iter().enumerate().filter(|(i, _)| *i != reference).collect(),
                _ => vec![],
            },
            _ => vec![],
        }
    }
    /// The entity at the far end of a relation.
    pub fn relation_target(&self, id: RelationId) -> EntityId {
        let (forward, inverse) = self.forward(id);
        let rel = self.relation(forward);
        match rel.kind {
            RelationKind::Forward { target, .. } if !inverse => target,
            _ => rel.entity,
        }
    }
}

fn field_type(ty: &TypeExpr, diags: &mut Vec<Diagnostic>) -> Option<FieldType> {
    Some(match ty {
        TypeExpr::Scalar(name) => match name.text.as_str() {
            "string" => FieldType::String,
            "number" => FieldType::Number,
            "integer" => FieldType::Integer,
            "boolean" | "bool" => FieldType::Boolean,
            other => {
                let mut d = Diagnostic::error(Code::EntityInvalid, name.span, format!("unknown type `{other}`"));
                if let Some(h) = did_you_mean(other, ["string", "number", "integer", "boolean"]) {
                    d = d.with_help(h);
                }
                diags.push(d.with_help("types are string, number, integer, boolean, [T] and {field: T, …}"));
                return None;
            }
        },
        TypeExpr::List(elem) => FieldType::List(Box::new(field_type(elem, diags)?)),
        TypeExpr::Object(fields) => FieldType::Object(fields_of(fields, diags)),
    })
}

fn fields_of(decls: &[ast::FieldDecl], diags: &mut Vec<Diagnostic>) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    for decl in decls {
        if let Some(first) = fields.iter().find(|f| f.name == decl.name.text) {
            diags.push(
                Diagnostic::error(Code::EntityInvalid, decl.name.span, format!("field `{}` is declared twice", decl.name.text))
                    .with_secondary(first.span, "first declared here"),
            );
            continue;
        }
        if let Some(ty) = field_type(&decl.ty, diags) {
            fields.push(Field { name: decl.name.text.clone(), ty, optional: decl.optional, span: decl.name.span });
        }
    }
    fields
}

/// One parsed ```entity block, before relations are resolved across blocks.
pub struct EntityBlock {
    pub name: String,
    /// The name on the fence line.
    pub name_span: Span,
    pub span: Span,
    pub items: Vec<EntityItem>,
    /// `` ```entity <name> extend ``: adds to an entity declared elsewhere.
    pub extend: bool,
}

/// A field's type in words, `?` included: "an optional number".
fn describe_field(f: &Field) -> String {
    let ty = f.ty.describe();
    if f.optional {
        format!("an optional {}", ty.trim_start_matches("an ").trim_start_matches("a "))
    } else {
        ty
    }
}

/// Adds the items of an ```entity <name> extend block to the entity it
/// names: new fields are appended, a field declared again must have the
/// same type, summary fields are added; relations and graphs are resolved
/// with the declarations' (the caller queues them).
fn extend(schema: &mut Schema, block: &EntityBlock, diags: &mut Vec<Diagnostic>) -> Option<EntityId> {
    let Some(id) = schema.entity_by_name(&block.name) else {
        let mut d = Diagnostic::error(
            Code::EntityInvalid,
            block.name_span,
            format!("this block extends `{}`, which no ```entity block declares", block.name),
        );
        d = match did_you_mean(&block.name, schema.entities.iter().map(|e| e.name.as_str())) {
            Some(h) => d.with_help(h),
            None => d.with_help(format!("declare the entity with ```entity {}, or extend one that is declared", block.name)),
        };
        diags.push(d);
        return None;
    };
    let decls: Vec<ast::FieldDecl> =
        block.items.iter().filter_map(|i| if let EntityItem::Field(f) = i { Some(f.clone()) } else { None }).collect();
    let added = fields_of(&decls, diags);
    let entity = &mut schema.entities[id.0 as usize];
    for field in added {
        match entity.fields.iter().find(|f| f.name == field.name) {
            Some(first) if first.ty == field.ty && first.optional == field.optional => {}
            Some(first) => diags.push(
                Diagnostic::error(
                    Code::EntityInvalid,
                    field.span,
                    format!(
                        "field `{}` of `{}` is {}, but this extension declares {}",
                        field.name,
                        entity.name,
                        describe_field(first),
                        describe_field(&field)
                    ),
                )
                .with_secondary(first.span, "declared here")
                .with_help("an extension adds fields; declare the field with its original type, or give the new field another name"),
            ),
            None => entity.fields.push(field),
        }
    }
    for item in &block.items {
        match item {
            EntityItem::Fingerprint { span, .. } => diags.push(
                Diagnostic::error(
                    Code::EntityInvalid,
                    *span,
                    format!("an extension of `{}` cannot declare its `fingerprint`", entity.name),
                )
                .with_help("the `fingerprint` line belongs to the declaration"),
            ),
            EntityItem::Key(name) | EntityItem::Collection(name) => {
                let what = if matches!(item, EntityItem::Key(_)) { "key" } else { "collection" };
                diags.push(
                    Diagnostic::error(
                        Code::EntityInvalid,
                        name.span,
                        format!("an extension of `{}` cannot declare its `{what}`", entity.name),
                    )
                    .with_help(format!(
                        "the `{what}` line belongs to the declaration; an extension adds fields, summary fields, relations and graphs"
                    )),
                );
            }
            EntityItem::Summary(name) => match entity.fields.iter().position(|f| f.name == name.text) {
                Some(i) if !entity.summary.contains(&FieldId(i as u32)) => entity.summary.push(FieldId(i as u32)),
                Some(_) => {}
                None => diags.push(unknown_field(name, entity)),
            },
            _ => {}
        }
    }
    Some(id)
}

/// Builds the schema from every ```entity block of every skill.
pub fn build(blocks: Vec<EntityBlock>, diags: &mut Vec<Diagnostic>) -> Schema {
    let mut schema = Schema::default();
    let mut pending = Vec::new();
    let (extensions, blocks): (Vec<EntityBlock>, Vec<EntityBlock>) = blocks.into_iter().partition(|b| b.extend);
    for block in blocks {
        if let Some(first) = schema.entities.iter().find(|e| e.name == block.name) {
            diags.push(
                Diagnostic::error(Code::EntityDuplicate, block.span, format!("entity `{}` is declared twice", block.name))
                    .with_secondary(first.span, "first declared here")
                    .with_help(format!("to add fields to it from this skill, write ```entity {} extend", block.name)),
            );
            continue;
        }
        let decls: Vec<ast::FieldDecl> =
            block.items.iter().filter_map(|i| if let EntityItem::Field(f) = i { Some(f.clone()) } else { None }).collect();
        let fields = fields_of(&decls, diags);
        let id = EntityId(schema.entities.len() as u32);
        let mut entity = Entity {
            name: block.name.clone(),
            span: block.span,
            key: None,
            collection: None,
            summary: Vec::new(),
            fingerprint: None,
            fields,
        };
        for item in &block.items {
            match item {
                EntityItem::Key(name) => match entity.fields.iter().position(|f| f.name == name.text) {
                    Some(i) if entity.fields[i].ty == FieldType::String && !entity.fields[i].optional => {
                        entity.key = Some(FieldId(i as u32))
                    }
                    Some(_) => diags.push(Diagnostic::error(
                        Code::EntityMissingKey,
                        name.span,
                        format!("the key `{}` must be a required string field", name.text),
                    )),
                    None => diags.push(unknown_field(name, &entity)),
                },
                EntityItem::Collection(name) => entity.collection = Some(name.text.clone()),
                EntityItem::Summary(name) => match entity.fields.iter().position(|f| f.name == name.text) {
                    Some(i) => entity.summary.push(FieldId(i as u32)),
                    None => diags.push(unknown_field(name, &entity)),
                },
                EntityItem::Fingerprint { but, span } => {
                    if entity.fingerprint.is_some() {
                        diags.push(Diagnostic::error(
                            Code::EntityInvalid,
                            *span,
                            format!("entity `{}` has a second `fingerprint` line", entity.name),
                        ));
                        continue;
                    }
                    for name in but.iter().filter(|n| !entity.fields.iter().any(|f| f.name == n.text)) {
                        diags.push(unknown_field(name, &entity));
                    }
                    entity.fingerprint = Some(but.iter().map(|n| n.text.clone()).collect());
                }
                _ => {}
            }
        }
        if entity.key.is_none() && !block.items.iter().any(|i| matches!(i, EntityItem::Key(_))) {
            diags.push(Diagnostic::error(Code::EntityMissingKey, block.span, format!("entity `{}` has no `key` line", block.name)));
        }
        schema.entities.push(entity);
        pending.push((id, block.items));
    }
    // Extensions, once every entity is declared (in whichever file).
    for block in extensions {
        if let Some(id) = extend(&mut schema, &block, diags) {
            pending.push((id, block.items));
        }
    }
    // Relations may name entities declared in other blocks: resolve them last.
    for (id, items) in &pending {
        for item in items {
            if let EntityItem::Relation { name, def: RelationDef::Path { list, field, target }, span } = item {
                let entity = schema.entity(*id).clone();
                let target_id = match target {
                    None => Some(*id),
                    Some(t) => {
                        let found = schema.entity_by_name(&t.text);
                        if found.is_none() {
                            diags.push(Diagnostic::error(Code::EntityInvalid, t.span, format!("unknown entity `{}`", t.text)));
                        }
                        found
                    }
                };
                let Some(target_id) = target_id else { continue };
                let Some(list_id) = entity.fields.iter().position(|f| f.name == list.text) else {
                    diags.push(unknown_field(list, &entity));
                    continue;
                };
                let item_fields = match &entity.fields[list_id].ty {
                    FieldType::List(item) => match item.as_ref() {
                        FieldType::Object(fields) => fields.clone(),
                        _ => vec![],
                    },
                    _ => vec![],
                };
                if item_fields.is_empty() {
                    diags.push(Diagnostic::error(
                        Code::EntityInvalid,
                        list.span,
                        format!("`{}` must be a list of objects to define a relation", list.text),
                    ));
                    continue;
                }
                let Some(reference) = item_fields.iter().position(|f| f.name == field.text) else {
                    let mut d = Diagnostic::error(
                        Code::UnknownField,
                        field.span,
                        format!("the elements of `{}` have no field `{}`", list.text, field.text),
                    );
                    if let Some(h) = did_you_mean(&field.text, item_fields.iter().map(|f| f.name.as_str())) {
                        d = d.with_help(h);
                    }
                    diags.push(d);
                    continue;
                };
                if item_fields[reference].ty != FieldType::String {
                    diags.push(Diagnostic::error(
                        Code::EntityInvalid,
                        field.span,
                        format!("`{}.{}` must be a string to name an entity by its key", list.text, field.text),
                    ));
                    continue;
                }
                let target_entity = schema.entity(target_id);
                for (_, f) in item_fields.iter().enumerate().filter(|(i, _)| *i != reference) {
                    if let Some(clash) = target_entity.fields.iter().find(|t| t.name == f.name) {
                        diags.push(
                            Diagnostic::error(
                                Code::EntityInvalid,
                                *span,
                                format!("edge field `{}` has the name of a field of `{}`", f.name, target_entity.name),
                            )
                            .with_secondary(clash.span, "the entity's field"),
                        );
                    }
                }
                schema.relations.push(Relation {
                    name: name.text.clone(),
                    span: name.span,
                    kind: RelationKind::Forward { list: FieldId(list_id as u32), reference, target: target_id },
                    entity: *id,
                });
            }
        }
    }
    for (id, items) in &pending {
        for item in items {
            if let EntityItem::Relation { name, def: RelationDef::Inverse(of), .. } = item {
                match schema.relations.iter().position(|r| r.name == of.text && matches!(r.kind, RelationKind::Forward { .. })) {
                    Some(i) => {
                        let target = match schema.relations[i].kind {
                            RelationKind::Forward { target, .. } => target,
                            RelationKind::Inverse(_) => *id,
                        };
                        schema.relations.push(Relation {
                            name: name.text.clone(),
                            span: name.span,
                            kind: RelationKind::Inverse(RelationId(i as u32)),
                            entity: target,
                        });
                    }
                    None => diags.push(Diagnostic::error(
                        Code::EntityInvalid,
                        of.span,
                        format!("`{}` is not a relation declared with a path", of.text),
                    )),
                }
            }
        }
        for item in items {
            if let EntityItem::Graph { name, relation, .. } = item {
                match schema.relation_by_name(*id, &relation.text) {
                    Some(rel) => {
                        let (forward, _) = schema.forward(rel);
                        schema.graphs.push(Graph { name: name.text.clone(), span: name.span, relation: forward });
                    }
                    None => {
                        diags.push(Diagnostic::error(Code::EntityInvalid, relation.span, format!("unknown relation `{}`", relation.text)))
                    }
                }
            }
        }
    }
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for r in &schema.relations {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == r.name) {
            diags.push(
                Diagnostic::error(Code::EntityInvalid, r.span, format!("relation `{}` is declared twice", r.name))
                    .with_secondary(*first, "first declared here"),
            );
        }
        seen.push((&r.name, r.span));
    }
    schema
}

fn unknown_field(name: &ast::Name, entity: &Entity) -> Diagnostic {
    let mut d = Diagnostic::error(Code::UnknownField, name.span, format!("`{}` is not a field of `{}`", name.text, entity.name));
    if let Some(h) = did_you_mean(&name.text, entity.fields.iter().map(|f| f.name.as_str())) {
        d = d.with_help(h);
    }
    d
}
