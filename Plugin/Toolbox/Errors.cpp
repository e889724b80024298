// The message of the current exception, for Orthanc's exceptions and standard ones alike.
#include "Errors.h"

#include <OrthancException.h>

#include <exception>

namespace Inbound
{
  std::string DescribeCurrentException()
  {
    try
    {
      throw;
    }
    catch (const Orthanc::OrthancException& e)
    {
      return e.HasDetails() ? std::string(e.What()) + ": " + e.GetDetails() : e.What();
    }
    catch (const std::exception& e)
    {
      return e.what();
    }
    catch (...)
    {
      return "unknown error";
    }
  }
}
