// Describes the exception being handled, whatever its type (Orthanc's or the standard's).
#pragma once

#include <string>

namespace Inbound
{
  // The message of the exception being handled, whatever its type (Orthanc's exceptions do
  // not derive from std::exception). Call only inside a catch block.
  std::string DescribeCurrentException();
}
