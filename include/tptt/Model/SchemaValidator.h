//===- SchemaValidator.h - Validate JSON against a JSON Schema --*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// A validator for the subset of JSON Schema 2020-12 that
// tptt-model.schema.json uses: type (one or several), enum, minimum,
// maximum, exclusiveMinimum, properties, required, additionalProperties
// (boolean), items, minItems, maxItems, plus the annotations $schema, $id,
// title, description, default. A schema using any other keyword is
// rejected, so the schema cannot silently say more than is checked. Debian
// packages no C++ JSON Schema validator, hence this one.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_MODEL_SCHEMAVALIDATOR_H
#define TPTT_MODEL_SCHEMAVALIDATOR_H

#include <nlohmann/json.hpp>

#include <string>

namespace tptt {
namespace model {

/// Checks `instance` against `schema`. On the first violation returns false
/// and sets `error` to "field 'a.b': <what is wrong>" ("the document" for
/// the root), the field's path starting at `path` (the instance's own place
/// in a larger document, if any).
bool validateAgainstSchema(const nlohmann::json &schema,
                           const nlohmann::json &instance, std::string &error,
                           const std::string &path = "");

} // namespace model
} // namespace tptt

#endif // TPTT_MODEL_SCHEMAVALIDATOR_H
