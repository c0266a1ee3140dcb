//===- SchemaValidator.cpp - Validate JSON against a JSON Schema ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Model/SchemaValidator.h"
#include "tptt/Runtime/Json.h"

#include <cmath>
#include <set>

using json = nlohmann::json;

namespace {

/// The JSON Schema type names `value` satisfies ("integer" also satisfies
/// "number").
bool hasType(const json &value, const std::string &type) {
  if (type == "null")
    return value.is_null();
  if (type == "boolean")
    return value.is_boolean();
  if (type == "integer") {
    if (value.is_number_integer())
      return true;
    // 64.0 is an integer too, if it fits an int64.
    double number = value.is_number_float() ? value.get<double>() : 0.5;
    return std::isfinite(number) && std::floor(number) == number &&
           std::fabs(number) < 9.2e18;
  }
  if (type == "number")
    return value.is_number();
  if (type == "string")
    return value.is_string();
  if (type == "array")
    return value.is_array();
  if (type == "object")
    return value.is_object();
  return false;
}

std::string joinPath(const std::string &path, const std::string &key) {
  return path.empty() ? key : path + "." + key;
}

class Validator {
public:
  explicit Validator(std::string &error) : error(error) {}

  bool check(const json &schema, const json &value, const std::string &path) {
    static const std::set<std::string> known = {"$schema",
                                                "$id",
                                                "title",
                                                "description",
                                                "default",
                                                "tptt_schema_version",
                                                "tptt_reference_checkpoint",
                                                "type",
                                                "enum",
                                                "minimum",
                                                "maximum",
                                                "exclusiveMinimum",
                                                "exclusiveMaximum",
                                                "properties",
                                                "required",
                                                "additionalProperties",
                                                "items",
                                                "minItems",
                                                "maxItems"};
    if (!schema.is_object())
      return fail("", "the schema is not an object");
    for (const auto &[keyword, unused] : schema.items())
      if (!known.count(keyword))
        return fail("", "the schema uses the unsupported keyword '" + keyword +
                            "'");

    if (auto it = schema.find("type"); it != schema.end()) {
      bool any = false;
      std::string names;
      for (const json &type : it->is_array() ? *it : json::array({*it})) {
        any = any || hasType(value, type.get<std::string>());
        names += (names.empty() ? "" : " or ") + type.get<std::string>();
      }
      if (!any)
        return fail(path, "expected " + names + ", got " +
                              ::tptt::runtime::quoteJson(value));
    }
    if (auto it = schema.find("enum"); it != schema.end()) {
      bool found = false;
      std::string choices;
      for (const json &choice : *it) {
        found = found || choice == value;
        choices +=
            (choices.empty() ? "" : ", ") + ::tptt::runtime::quoteJson(choice);
      }
      if (!found)
        return fail(path, ::tptt::runtime::quoteJson(value) +
                              " is not one of " + choices);
    }
    if (value.is_number()) {
      double number = value.get<double>();
      if (auto it = schema.find("minimum");
          it != schema.end() && number < it->get<double>())
        return fail(path, "must be at least " +
                              ::tptt::runtime::quoteJson(*it) + ", got " +
                              ::tptt::runtime::quoteJson(value));
      if (auto it = schema.find("maximum");
          it != schema.end() && number > it->get<double>())
        return fail(path, "must be at most " + ::tptt::runtime::quoteJson(*it) +
                              ", got " + ::tptt::runtime::quoteJson(value));
      if (auto it = schema.find("exclusiveMinimum");
          it != schema.end() && number <= it->get<double>())
        return fail(path, "must be greater than " +
                              ::tptt::runtime::quoteJson(*it) + ", got " +
                              ::tptt::runtime::quoteJson(value));
      if (auto it = schema.find("exclusiveMaximum");
          it != schema.end() && number >= it->get<double>())
        return fail(path, "must be less than " +
                              ::tptt::runtime::quoteJson(*it) + ", got " +
                              ::tptt::runtime::quoteJson(value));
    }
    if (value.is_array()) {
      if (auto it = schema.find("minItems");
          it != schema.end() && value.size() < it->get<size_t>())
        return fail(path, "needs at least " + ::tptt::runtime::quoteJson(*it) +
                              " item(s)");
      if (auto it = schema.find("maxItems");
          it != schema.end() && value.size() > it->get<size_t>())
        return fail(path, "allows at most " + ::tptt::runtime::quoteJson(*it) +
                              " item(s)");
      if (auto it = schema.find("items"); it != schema.end())
        for (size_t i = 0; i < value.size(); ++i)
          if (!check(*it, value[i], path + "[" + std::to_string(i) + "]"))
            return false;
    }
    if (value.is_object()) {
      if (auto it = schema.find("required"); it != schema.end())
        for (const json &name : *it)
          if (!value.contains(name.get<std::string>()))
            return fail(joinPath(path, name.get<std::string>()),
                        "is required but missing");
      const json *properties = nullptr;
      if (auto it = schema.find("properties"); it != schema.end())
        properties = &*it;
      bool closed = schema.value("additionalProperties", true) == false;
      for (const auto &[key, member] : value.items()) {
        if (properties && properties->contains(key)) {
          if (!check((*properties)[key], member, joinPath(path, key)))
            return false;
        } else if (closed) {
          return fail(joinPath(path, key), "is not a known field");
        }
      }
    }
    return true;
  }

private:
  bool fail(const std::string &path, const std::string &message) {
    error =
        (path.empty() ? std::string("the document") : "field '" + path + "'") +
        ": " + message;
    return false;
  }

  std::string &error;
};

} // namespace

bool tptt::model::validateAgainstSchema(const json &schema,
                                        const json &instance,
                                        std::string &error,
                                        const std::string &path) {
  return Validator(error).check(schema, instance, path);
}
