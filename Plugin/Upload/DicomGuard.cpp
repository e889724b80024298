// The structural walk of untrusted DICOM bytes: no recursion, every length bounded, capped inflate.
// Over 500 lines: one walk over untrusted bytes, kept whole so that every bound is read together.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "DicomGuard.h"

#include "Http/ApiError.h"

#include <dcmtk/dcmdata/dctag.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace Inbound
{
  namespace
  {
    const size_t kPreamble = 128;
    const uint32_t kUndefinedLength = 0xffffffffu;
    const uint64_t kNoEnd = std::numeric_limits<uint64_t>::max();
    const uint32_t kItem = 0xfffee000u;
    const uint32_t kItemDelimitation = 0xfffee00du;
    const uint32_t kSequenceDelimitation = 0xfffee0ddu;
    const uint32_t kPixelData = 0x7fe00010u;

    ApiError Invalid(const std::string& why)
    {
      return ApiError(400, "invalid-dicom", "The DICOM file is refused: " + why);
    }

    ApiError TooLarge(uint64_t cap)
    {
      return ApiError(413, "too-large", "The deflated DICOM file inflates to more than " +
                                          std::to_string(cap) +
                                          " bytes, the largest file accepted (Upload.MaxFileBytes)");
    }

    // In implicit VR a reader knows a sequence of defined length only from its dictionary;
    // DCMTK reads unknown and private tags as UN, and may know private ones as SQ from their
    // creator. Only a tag that the dictionary gives another VR is surely not walked as items.
    bool MayBeSequence(uint32_t tag)
    {
      const DcmEVR vr = DcmTag(DcmTagKey(uint16_t(tag >> 16), uint16_t(tag & 0xffff))).getEVR();
      return vr == EVR_SQ || vr == EVR_UN || vr == EVR_UNKNOWN || vr == EVR_UNKNOWN2B;
    }

    std::string At(uint64_t position)
    {
      return " (dataset byte " + std::to_string(position) + ")";
    }

    struct Encoding
    {
      bool explicitVr;
      bool bigEndian;
    };

    const Encoding kImplicitLittle = {false, false};

    // The bytes of the dataset, read through a window: the whole file in memory, or a small
    // buffer that zlib refills, so that a deflated dataset is never held inflated.
    class ByteStream
    {
    private:
      uint64_t consumed_ = 0;  // bytes before the window's cursor

    protected:
      const uint8_t* window_ = nullptr;
      size_t cursor_ = 0;
      size_t available_ = 0;  // bytes of the window from the cursor on

      // Adds bytes after the available ones (keeping these); false at the end of the data.
      virtual bool Refill() = 0;

    public:
      virtual ~ByteStream()
      {
      }

      uint64_t Position() const
      {
        return consumed_;
      }

      bool Ensure(size_t count)
      {
        while (available_ < count)
        {
          if (!Refill())
          {
            return false;
          }
        }
        return true;
      }

      const uint8_t* Peek() const
      {
        return window_ + cursor_;
      }

      void Advance(size_t count)
      {
        cursor_ += count;
        available_ -= count;
        consumed_ += count;
      }

      bool Skip(uint64_t count)
      {
        while (count > 0)
        {
          if (available_ == 0 && !Refill())
          {
            return false;
          }
          const size_t step = static_cast<size_t>(std::min<uint64_t>(count, available_));
          Advance(step);
          count -= step;
        }
        return true;
      }

      bool AtEnd()
      {
        return !Ensure(1);
      }
    };

    class MemoryStream : public ByteStream
    {
    protected:
      bool Refill() override
      {
        return false;
      }

    public:
      MemoryStream(const uint8_t* data, size_t size)
      {
        window_ = data;
        available_ = size;
      }
    };

    // Raw deflate (PS3.5 A.5: "deflate" of RFC 1951 without the zlib header), inflated 64 KiB at
    // a time with a cap on the total: a few hundred KB can inflate to gigabytes.
    class InflateStream : public ByteStream
    {
    private:
      z_stream zlib_;
      std::vector<uint8_t> buffer_;
      uint64_t produced_ = 0;
      uint64_t cap_;
      bool finished_ = false;
      const uint8_t* input_;
      size_t inputLeft_;  // compressed bytes not yet handed to zlib

      // zlib takes its input in pieces of at most 4 GiB (uInt): files are now larger.
      void FeedInput()
      {
        if (zlib_.avail_in == 0 && inputLeft_ > 0)
        {
          const size_t step = std::min<size_t>(inputLeft_, 0x40000000u);
          zlib_.next_in = const_cast<Bytef*>(input_);
          zlib_.avail_in = static_cast<uInt>(step);
          input_ += step;
          inputLeft_ -= step;
        }
      }

    protected:
      bool Refill() override
      {
        if (finished_)
        {
          return false;
        }
        if (cursor_ > 0)
        {
          memmove(buffer_.data(), buffer_.data() + cursor_, available_);
          cursor_ = 0;
        }
        FeedInput();
        zlib_.next_out = buffer_.data() + available_;
        zlib_.avail_out = static_cast<uInt>(buffer_.size() - available_);
        const int result = inflate(&zlib_, Z_NO_FLUSH);
        const size_t added = buffer_.size() - available_ - zlib_.avail_out;
        if (result == Z_STREAM_END)
        {
          finished_ = true;
        }
        else if (result != Z_OK && !(result == Z_BUF_ERROR && added > 0))
        {
          // Z_BUF_ERROR without output: the compressed data ended before its end mark.
          throw Invalid("its deflated dataset is damaged or truncated");
        }
        produced_ += added;
        if (produced_ > cap_)
        {
          throw TooLarge(cap_);
        }
        available_ += added;
        window_ = buffer_.data();
        return added > 0 || !finished_;
      }

    public:
      InflateStream(const uint8_t* data, size_t size, uint64_t cap) :
        buffer_(64 * 1024),
        cap_(cap),
        input_(data),
        inputLeft_(size)
      {
        memset(&zlib_, 0, sizeof(zlib_));
        if (inflateInit2(&zlib_, -MAX_WBITS) != Z_OK)
        {
          throw std::bad_alloc();
        }
        window_ = buffer_.data();
      }

      ~InflateStream() override
      {
        inflateEnd(&zlib_);
      }
    };

    uint16_t Read16(const uint8_t* p, bool bigEndian)
    {
      return bigEndian ? uint16_t((p[0] << 8) | p[1]) : uint16_t(p[0] | (p[1] << 8));
    }

    uint32_t Read32(const uint8_t* p, bool bigEndian)
    {
      return bigEndian ? (uint32_t(Read16(p, true)) << 16) | Read16(p + 2, true)
                       : uint32_t(Read16(p, false)) | (uint32_t(Read16(p + 2, false)) << 16);
    }

    uint32_t ReadTag(const uint8_t* p, bool bigEndian)
    {
      return (uint32_t(Read16(p, bigEndian)) << 16) | Read16(p + 2, bigEndian);
    }

    // The VRs of PS3.5 6.2 (DCMTK 3.6.7 knows them all); the second ones have a 4-byte length.
    bool IsKnownVr(const uint8_t* p, bool& longLength)
    {
      static const char* const kShort[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD",
                                           "FL", "IS", "LO", "LT", "PN", "SH", "SL", "SS",
                                           "ST", "TM", "UI", "UL", "US"};
      static const char* const kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                          "SV", "UC", "UN", "UR", "UT", "UV"};
      for (const char* vr : kShort)
      {
        if (p[0] == vr[0] && p[1] == vr[1])
        {
          longLength = false;
          return true;
        }
      }
      for (const char* vr : kLong)
      {
        if (p[0] == vr[0] && p[1] == vr[1])
        {
          longLength = true;
          return true;
        }
      }
      return false;
    }

    enum FrameKind
    {
      FrameKind_Dataset,    // the top level: ends with the data
      FrameKind_Item,       // a dataset in a sequence
      FrameKind_Sequence,   // items, each a dataset
      FrameKind_Fragments   // encapsulated pixel data: items of opaque bytes
    };

    struct Frame
    {
      FrameKind kind;
      uint64_t end;    // kNoEnd: undefined length, ends with a delimiter
      uint64_t limit;  // nearest end of this frame or of an enclosing one
      Encoding encoding;
    };

    class Walker
    {
    private:
      ByteStream& stream_;
      const DicomGuardLimits& limits_;
      std::vector<Frame> stack_;
      unsigned int depth_ = 0;
      uint64_t inflatedCap_;  // kNoEnd unless deflated

      // The top level's last element so far, and what the elements before it were: enough to
      // tell, once the walk ends, whether the file ends with a Pixel Data element that may be
      // copied as sent (LookupCopyablePixelData).
      uint32_t lastTopTag_ = 0;
      uint64_t lastTopPosition_ = kNoEnd;  // kNoEnd: no element yet
      bool lastTopCopyable_ = false;  // Pixel Data of defined, even length, skipped as bytes
      bool earlierTopBelowPixelData_ = true;  // every element before the last is < (7FE0,0010)
      bool pixelDataGroupLength_ = false;     // a (7FE0,0000) at the top level

      // The next `count` bytes must lie inside every enclosing container and in the data.
      const uint8_t* Need(size_t count)
      {
        const uint64_t position = stream_.Position();
        if (position + count > stack_.back().limit)
        {
          throw Invalid("an element runs past the end of its item or sequence" + At(position));
        }
        if (!stream_.Ensure(count))
        {
          throw Invalid("it is truncated" + At(position));
        }
        return stream_.Peek();
      }

      void CheckValueFits(uint32_t length)
      {
        const uint64_t position = stream_.Position();
        if (position + length > inflatedCap_)
        {
          throw TooLarge(inflatedCap_);
        }
        if (position + length > stack_.back().limit)
        {
          throw Invalid("a length of " + std::to_string(length) +
                        " bytes runs past the end of its item, sequence or file" + At(position));
        }
      }

      void Push(FrameKind kind, uint32_t length, const Encoding& encoding)
      {
        if (kind == FrameKind_Sequence || kind == FrameKind_Fragments)
        {
          if (depth_ + 1 > limits_.maxSequenceDepth)
          {
            throw Invalid("its sequences are nested deeper than " +
                          std::to_string(limits_.maxSequenceDepth) +
                          " levels, which can crash DICOM readers" + At(stream_.Position()));
          }
          depth_++;
        }
        Frame frame;
        frame.kind = kind;
        frame.encoding = encoding;
        frame.limit = stack_.back().limit;
        frame.end = kNoEnd;
        if (length != kUndefinedLength)
        {
          CheckValueFits(length);
          frame.end = stream_.Position() + length;
          frame.limit = frame.end;
        }
        stack_.push_back(frame);
      }

      void Pop()
      {
        if (stack_.back().kind == FrameKind_Sequence || stack_.back().kind == FrameKind_Fragments)
        {
          depth_--;
        }
        stack_.pop_back();
      }

      // Does the value, of defined length, start with an item tag?
      bool StartsWithItem(uint32_t length, bool bigEndian)
      {
        return length >= 8 && stream_.Ensure(4) && ReadTag(stream_.Peek(), bigEndian) == kItem;
      }

      void Element(uint32_t tag, const Encoding& encoding)
      {
        const uint64_t position = stream_.Position() - 4;
        if ((tag >> 16) == 0xfffe)
        {
          throw Invalid("an item or delimiter tag stands where an element must" + At(position));
        }
        const bool topLevel = (stack_.size() == 1);
        if (topLevel)
        {
          if (lastTopPosition_ != kNoEnd && lastTopTag_ >= kPixelData)
          {
            earlierTopBelowPixelData_ = false;  // the previous element becomes an earlier one
          }
          pixelDataGroupLength_ = pixelDataGroupLength_ || tag == 0x7fe00000u;
          lastTopTag_ = tag;
          lastTopPosition_ = position;
          lastTopCopyable_ = false;
        }
        bool isSequence = false;
        bool isUn = false;
        bool isOtherBytes = false;
        uint32_t length;
        if (encoding.explicitVr)
        {
          const uint8_t* vr = Need(2);
          bool longLength = false;
          if (!IsKnownVr(vr, longLength))
          {
            throw Invalid("an element has an unknown value representation" + At(position));
          }
          isSequence = (vr[0] == 'S' && vr[1] == 'Q');
          isUn = (vr[0] == 'U' && vr[1] == 'N');
          isOtherBytes = (vr[0] == 'O' && (vr[1] == 'B' || vr[1] == 'W'));
          if (longLength)
          {
            stream_.Advance(2);
            const uint8_t* header = Need(6);
            if (header[0] != 0 || header[1] != 0)
            {
              // Reserved bytes that are not zero: a reader that took the VR for a short one
              // would see another structure than this walk.
              throw Invalid("an element's reserved bytes are not zero" + At(position));
            }
            length = Read32(header + 2, encoding.bigEndian);
            stream_.Advance(6);
          }
          else
          {
            const uint8_t* header = Need(4);
            length = Read16(header + 2, encoding.bigEndian);
            stream_.Advance(4);
          }
        }
        else
        {
          length = Read32(Need(4), encoding.bigEndian);
          stream_.Advance(4);
        }

        // The contents of UN are implicit VR little endian (PS3.5 6.2.2), whatever the file's.
        const Encoding inner = (encoding.explicitVr && isUn) ? kImplicitLittle : encoding;
        if (length == kUndefinedLength)
        {
          if (tag == kPixelData && (!encoding.explicitVr || isOtherBytes))
          {
            Push(FrameKind_Fragments, length, encoding);
          }
          else if (isSequence || isUn || !encoding.explicitVr)
          {
            Push(FrameKind_Sequence, length, inner);
          }
          else
          {
            throw Invalid("an element other than a sequence or pixel data has an undefined "
                          "length" + At(position));
          }
        }
        else if (isSequence)
        {
          Push(FrameKind_Sequence, length, inner);
        }
        else
        {
          CheckValueFits(length);
          if ((isUn || !encoding.explicitVr) && StartsWithItem(length, inner.bigEndian) &&
              (isUn || MayBeSequence(tag)))
          {
            Push(FrameKind_Sequence, length, inner);
          }
          else if (!stream_.Skip(length))
          {
            throw Invalid("it is truncated" + At(position));
          }
          else if (topLevel && tag == kPixelData && !encoding.bigEndian && length % 2 == 0 &&
                   (!encoding.explicitVr || isOtherBytes))
          {
            // Native pixel data read and written as the bytes sent: DCMTK keeps the VR it read
            // (OB or OW) and pads only values of odd length.
            lastTopCopyable_ = true;
          }
        }
      }

      uint32_t DelimiterLength(uint64_t position, const Encoding& encoding)
      {
        const uint32_t length = Read32(Need(4), encoding.bigEndian);
        stream_.Advance(4);
        if (length != 0)
        {
          throw Invalid("a delimiter has a non-zero length" + At(position));
        }
        return length;
      }

      uint32_t ItemLength(const Encoding& encoding)
      {
        const uint32_t length = Read32(Need(4), encoding.bigEndian);
        stream_.Advance(4);
        return length;
      }

    public:
      Walker(ByteStream& stream, const DicomGuardLimits& limits, const Encoding& encoding,
             uint64_t size, uint64_t inflatedCap) :
        stream_(stream),
        limits_(limits),
        inflatedCap_(inflatedCap)
      {
        stack_.push_back(Frame{FrameKind_Dataset, kNoEnd, size, encoding});
      }

      // After Run: the dataset ends with a Pixel Data element that DCMTK would write back
      // exactly as it is sent, at "position" of the dataset (doc/Architecture.md, "The upload
      // flow"): native pixel data of defined, even length at the top level, the last
      // element, every element before it of a lower tag (DCMTK writes elements in tag order,
      // so it stays last), and no group length of its group (DCMTK recomputes group lengths).
      bool LookupCopyablePixelData(uint64_t& position) const
      {
        if (lastTopCopyable_ && earlierTopBelowPixelData_ && !pixelDataGroupLength_)
        {
          position = lastTopPosition_;
          return true;
        }
        return false;
      }

      void Run()
      {
        for (;;)
        {
          const Frame frame = stack_.back();
          const uint64_t position = stream_.Position();
          if (frame.end != kNoEnd && position == frame.end)
          {
            Pop();
            continue;
          }
          if (frame.kind == FrameKind_Dataset && stream_.AtEnd())
          {
            return;  // the only way out: every container closed, all bytes walked
          }
          const uint32_t tag = ReadTag(Need(4), frame.encoding.bigEndian);
          stream_.Advance(4);
          switch (frame.kind)
          {
            case FrameKind_Dataset:
            case FrameKind_Item:
              if (tag == kItemDelimitation)
              {
                DelimiterLength(position, frame.encoding);
                if (frame.kind != FrameKind_Item || frame.end != kNoEnd)
                {
                  throw Invalid("an item delimiter stands outside an item of undefined length" +
                                At(position));
                }
                Pop();
              }
              else
              {
                Element(tag, frame.encoding);
              }
              break;

            case FrameKind_Sequence:
              if (tag == kItem)
              {
                Push(FrameKind_Item, ItemLength(frame.encoding), frame.encoding);
              }
              else if (tag == kSequenceDelimitation && frame.end == kNoEnd)
              {
                DelimiterLength(position, frame.encoding);
                Pop();
              }
              else
              {
                throw Invalid("a sequence holds something other than items" + At(position));
              }
              break;

            case FrameKind_Fragments:
              if (tag == kItem)
              {
                const uint32_t length = ItemLength(frame.encoding);
                if (length == kUndefinedLength)
                {
                  throw Invalid("a pixel data fragment has an undefined length" + At(position));
                }
                CheckValueFits(length);
                if (!stream_.Skip(length))
                {
                  throw Invalid("it is truncated" + At(position));
                }
              }
              else if (tag == kSequenceDelimitation)
              {
                DelimiterLength(position, frame.encoding);
                Pop();
              }
              else
              {
                throw Invalid("encapsulated pixel data holds something other than fragments" +
                              At(position));
              }
              break;
          }
        }
      }
    };

    bool IsKnownTag(uint16_t group, uint16_t element)
    {
      return DcmTag(DcmTagKey(group, element)).error().good();
    }

    // Without a transfer syntax that DCMTK knows, it guesses one from the first element
    // (DcmItem::checkTransferSyntax): a known VR after the tag means explicit VR, and of the
    // two byte orders the one that gives a known tag (or the smaller group) wins. The same
    // guess here, so that this walk reads what DCMTK will read.
    Encoding GuessEncoding(const uint8_t* data, size_t size)
    {
      if (size < 6)
      {
        return Encoding{true, false};
      }
      bool longLength;
      const bool explicitVr = isalpha(data[4]) && isalpha(data[5]) && IsKnownVr(data + 4, longLength);
      const uint16_t group = Read16(data, false), element = Read16(data + 2, false);
      const uint16_t swappedGroup = Read16(data, true), swappedElement = Read16(data + 2, true);
      const bool little = IsKnownTag(group, element), big = IsKnownTag(swappedGroup, swappedElement);
      bool bigEndian = false;
      if (little != big)
      {
        bigEndian = big;
      }
      else if (little && big)
      {
        bigEndian = (group > 0xff && swappedGroup <= 0xff);
      }
      return Encoding{explicitVr, bigEndian};
    }

    // The file meta group (PS3.10 7.1): explicit VR little endian, group 0002, before the
    // dataset.
    size_t WalkMeta(DicomFileMeta& meta, const uint8_t* data, size_t size)
    {
      size_t position = kPreamble + 4;
      size_t groupLengthEnd = 0;
      uint32_t groupLength = 0;
      bool hasGroupLength = false;
      bool any = false;
      std::set<uint32_t> seen;
      while (size - position >= 8 && Read16(data + position, false) == 0x0002)
      {
        const uint32_t tag = ReadTag(data + position, false);
        bool longLength = false;
        if (!IsKnownVr(data + position + 4, longLength) || memcmp(data + position + 4, "SQ", 2) == 0)
        {
          throw Invalid("its file meta information is not in explicit VR little endian");
        }
        if (!seen.insert(tag).second)
        {
          // DCMTK keeps the first of two equal elements, this walk would keep the last: two
          // transfer syntaxes would let it walk another encoding than DCMTK parses.
          throw Invalid("its file meta information holds an element twice");
        }
        size_t header = 8;
        uint32_t length = Read16(data + position + 6, false);
        if (longLength)
        {
          if (size - position < 12)
          {
            throw Invalid("its file meta information is truncated");
          }
          header = 12;
          length = Read32(data + position + 8, false);
        }
        if (length > size - position - header)
        {
          throw Invalid("an element of its file meta information runs past the end of the file");
        }
        const uint8_t* value = data + position + header;
        if (tag == 0x00020000u &&
            (any || length != 4 || memcmp(data + position + 4, "UL", 2) != 0))
        {
          // DCMTK takes the first value of a longer group length as the group's end and reads
          // the elements after it into the dataset: a (0002,0010) there names no transfer
          // syntax for DCMTK (it guesses) while this walk would take it.
          throw Invalid("its file meta information group length is not one UL at its start");
        }
        if (tag == 0x00020000u)
        {
          hasGroupLength = true;
          groupLength = Read32(value, false);
          groupLengthEnd = position + header + length;
        }
        else if (tag == 0x00020010u || tag == 0x00020002u)
        {
          std::string& uid = (tag == 0x00020010u ? meta.transferSyntax : meta.mediaStorageSopClass);
          uid.assign(reinterpret_cast<const char*>(value), length);
          while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' '))
          {
            uid.pop_back();
          }
          // DCMTK ignores a transfer syntax that is not a UI, and reads one up to a NUL: it
          // would guess the encoding while this walk took the one named here.
          if (tag == 0x00020010u && (memcmp(data + position + 4, "UI", 2) != 0 ||
                                     uid.find_first_not_of("0123456789.") != std::string::npos))
          {
            throw Invalid("the transfer syntax of its file meta information is not a plain UID");
          }
        }
        position += header + length;
        any = true;
      }
      if (!any)
      {
        throw Invalid("it has no file meta information after its DICM prefix");
      }
      if (hasGroupLength && position - groupLengthEnd != groupLength)
      {
        // DCMTK may trust the group length, this walk the group numbers: they must agree.
        throw Invalid("the length of its file meta information does not match its elements");
      }
      return position;
    }
  }

  DicomFileMeta DicomGuard::ReadMeta(const void* data, size_t size)
  {
    const uint8_t* bytes = static_cast<const uint8_t*>(data);
    if (size < kPreamble + 4 || memcmp(bytes + kPreamble, "DICM", 4) != 0)
    {
      throw ApiError(400, "not-dicom", "The file is not a DICOM file (no DICM prefix at byte 128)");
    }
    DicomFileMeta meta;
    meta.datasetOffset = WalkMeta(meta, bytes, size);
    return meta;
  }

  uint64_t DicomGuard::CheckDataset(const DicomFileMeta& meta, const void* data, size_t size,
                                    const DicomGuardLimits& limits)
  {
    size_t copyablePixelData;
    return CheckDataset(meta, data, size, limits, copyablePixelData);
  }

  uint64_t DicomGuard::CheckDataset(const DicomFileMeta& meta, const void* data, size_t size,
                                    const DicomGuardLimits& limits, size_t& copyablePixelData)
  {
    copyablePixelData = 0;
    const uint8_t* dataset = static_cast<const uint8_t*>(data) + meta.datasetOffset;
    const size_t length = size - meta.datasetOffset;
    // DCMTK's own table, so that this walk reads the dataset as DCMTK will.
    const DcmXfer syntax(meta.transferSyntax.c_str());
    if (meta.transferSyntax.empty() || syntax.getXfer() == EXS_Unknown ||
        meta.transferSyntax != syntax.getXferID())
    {
      // Also for an empty UID, which DCMTK's table gives to its internal "big endian implicit".
      MemoryStream stream(dataset, length);
      Walker(stream, limits, GuessEncoding(dataset, length), length, kNoEnd).Run();
      return size;
    }
    const Encoding encoding = {syntax.isExplicitVR() != OFFalse,
                               syntax.getByteOrder() == EBO_BigEndian};
    if (syntax.getStreamCompression() == ESC_zlib)
    {
      InflateStream stream(dataset, length, limits.maxInflatedBytes);
      Walker(stream, limits, encoding, kNoEnd, limits.maxInflatedBytes).Run();
      // Walked to its end: the position is the inflated size.
      return meta.datasetOffset + stream.Position();
    }
    else if (syntax.getStreamCompression() == ESC_none)
    {
      MemoryStream stream(dataset, length);
      Walker walker(stream, limits, encoding, length, kNoEnd);
      walker.Run();
      // Only the two syntaxes of native pixel data in little endian: the others encapsulate
      // it (undefined length, refused by the walker's test anyway) or swap its bytes.
      uint64_t position = 0;
      if ((syntax.getXfer() == EXS_LittleEndianImplicit ||
           syntax.getXfer() == EXS_LittleEndianExplicit) &&
          walker.LookupCopyablePixelData(position))
      {
        copyablePixelData = meta.datasetOffset + static_cast<size_t>(position);
      }
      return size;
    }
    else
    {
      throw Invalid("its transfer syntax " + meta.transferSyntax +
                    " compresses the dataset in an unsupported way");
    }
  }

  uint64_t DicomGuard::Check(const void* data, size_t size, const DicomGuardLimits& limits)
  {
    return CheckDataset(ReadMeta(data, size), data, size, limits);
  }
}
